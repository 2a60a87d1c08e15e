#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build the PyTorch nn.Sequential of a blasnet model file, with the course's conventions.

The file's network description lists the nn.Sequential that computes what blasnet computes
(``torch.modules``); this script builds it and loads the weights. Where PyTorch's own
conventions differ from the course's, it says so instead of applying PyTorch's silently:

* nn.Linear keeps its weight as (out, in): blasnet's Affine W (in, out) is transposed.
* Max pooling with padding: the course pads with zeros that take part in the max, so the
  module is nn.ZeroPad2d then nn.MaxPool2d (MaxPool2d's own padding is -inf). The same for
  average pooling, whose padded zeros count in the mean.
* Dropout (the course's): CourseDropout multiplies by (1 - ratio) at test time and does not
  scale in training; plain nn.Dropout does the opposite (blasnet's inverted Dropout is nn.Dropout).
* BatchNormalization (the course's): CourseBatchNorm normalises every feature of the flattened
  input (N, C*H*W), not each channel as nn.BatchNorm2d; eps 1e-6; its running variance is
  updated with the biased batch variance and the course's momentum (torch momentum = 1 - it).

The weights are read with blasnet_numpy.read_safetensors (numpy, no safetensors package).
A file saved with ``saveParams(file, { layout: 'torch' })`` holds the state_dict itself:
``model.load_state_dict(...)`` takes it as it is.

Usage:
    python3 blasnet_torch.py model.safetensors                  # print the nn.Sequential
    python3 blasnet_torch.py model.safetensors --inputs x.safetensors [--name x] [--json out.json]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blasnet_numpy import read_description, read_safetensors  # noqa: E402


class CourseDropout(nn.Module):
    """The course's Dropout: training drops units (uniform draw <= ratio) without scaling the
    others; test time multiplies every unit by (1 - ratio)."""

    def __init__(self, ratio):
        super().__init__()
        self.ratio = ratio

    def forward(self, x):
        if self.training:
            return x * (torch.rand_like(x) > self.ratio)
        return x * (1.0 - self.ratio)

    def extra_repr(self):
        return f"ratio={self.ratio}, test time x{1.0 - self.ratio:g}"


class CourseBatchNorm(nn.BatchNorm1d):
    """The course's BatchNormalization: every feature of the flattened input (N, D) is
    normalised (D = C*H*W for images), eps 1e-6; in training the running statistics start at
    zeros and follow running = momentum * running + (1 - momentum) * batch with the biased
    batch variance.
    Its parameters and buffers are BatchNorm1d's (weight, bias, running_mean, running_var)."""

    def __init__(self, features, momentum=0.9, eps=1e-6):
        super().__init__(features, eps=eps, momentum=1.0 - momentum)
        self.course_momentum = momentum

    def reset_running_stats(self):
        # The course starts the running variance at zeros (BatchNorm1d: ones).
        super().reset_running_stats()
        self.running_var.zero_()

    def forward(self, x):
        flat = x.reshape(x.shape[0], -1)
        if self.training:
            mean = flat.mean(dim=0)
            var = flat.var(dim=0, unbiased=False)
            with torch.no_grad():
                m = self.course_momentum
                self.running_mean.mul_(m).add_((1 - m) * mean)
                self.running_var.mul_(m).add_((1 - m) * var)
            y = (flat - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
        else:
            y = F.batch_norm(flat, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return y.reshape(x.shape)


def build(description):
    """The nn.Sequential of a network description (weights not loaded)."""
    if description.get("torch") is None:
        raise ValueError("the network has a layer of the user's own class: it has no PyTorch equivalent here")
    layers = description["layers"]
    modules = []
    for m in description["torch"]["modules"]:
        s = layers[m["layer"]]
        kind = m["module"]
        if kind == "Flatten":
            modules.append(nn.Flatten())
        elif kind == "Linear":
            modules.append(nn.Linear(s["in"], s["out"]))
        elif kind == "Conv2d":
            modules.append(nn.Conv2d(s["channels"], s["filters"], tuple(s["kernel"]), stride=s["stride"], padding=s["pad"]))
        elif kind == "ZeroPad2d":
            modules.append(nn.ZeroPad2d(s["pad"]))
        elif kind == "MaxPool2d":
            modules.append(nn.MaxPool2d(tuple(s["window"]), stride=s["stride"]))
        elif kind == "AvgPool2d":
            modules.append(nn.AvgPool2d(tuple(s["window"]), stride=s["stride"]))
        elif kind == "ReLU":
            modules.append(nn.ReLU())
        elif kind == "Sigmoid":
            modules.append(nn.Sigmoid())
        elif kind == "Tanh":
            modules.append(nn.Tanh())
        elif kind == "Dropout":
            modules.append(nn.Dropout(s["ratio"]))
        elif kind == "CourseDropout":
            modules.append(CourseDropout(s["ratio"]))
        elif kind == "CourseBatchNorm":
            modules.append(CourseBatchNorm(s["features"], momentum=s["momentum"], eps=s["eps"]))
        else:
            raise ValueError(f"unknown module {kind}")
        if m["index"] != len(modules) - 1:
            raise ValueError(f"module {kind} is listed at index {m['index']} but built at {len(modules) - 1}")
    return nn.Sequential(*modules)


_TORCH_KEYS = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias",
               "runningMean": "running_mean", "runningVar": "running_var"}


def state_dict(description, tensors):
    """The state_dict of build(description) from the file's tensors, in either layout."""
    if description["layout"] == "torch":
        return {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in tensors.items()}
    main = {}
    for m in description["torch"]["modules"]:
        if m["module"] in ("Linear", "Conv2d", "CourseBatchNorm"):
            main[m["layer"]] = m["index"]
    state = {}
    for i, s in enumerate(description["layers"]):
        for key, name in s.get("tensors", {}).items():
            v = np.array(tensors[name], dtype=np.float32)
            if s["type"] == "Affine" and key == "W":
                v = v.T.copy()                              # (in, out) -> nn.Linear's (out, in)
            state[f"{main[i]}.{_TORCH_KEYS[key]}"] = torch.from_numpy(v)
    return state


def load(path):
    """The nn.Sequential of a blasnet file with its weights, in eval mode."""
    tensors, metadata = read_safetensors(path)
    description = read_description(metadata, path)
    model = build(description)
    # strict: every parameter and buffer is in the file, nothing else. (BatchNorm's
    # num_batches_tracked, absent from the file, is filled in by PyTorch with 0.)
    model.load_state_dict(state_dict(description, tensors), strict=True)
    return model.eval()


def main(argv=None):
    p = argparse.ArgumentParser(description="Build the PyTorch nn.Sequential of a blasnet model file.")
    p.add_argument("model")
    p.add_argument("--inputs", help="safetensors file holding the inputs (float32, N x input shape)")
    p.add_argument("--name", default="x", help="name of the inputs tensor in that file (default x)")
    p.add_argument("--json", help="write the logits and predictions to this JSON file")
    a = p.parse_args(argv)
    model = load(a.model)
    if a.inputs is None:
        print(model)
        return 0
    x = torch.from_numpy(np.array(read_safetensors(a.inputs)[0][a.name], dtype=np.float32))
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + 500]) for i in range(0, len(x), 500)]).double().numpy()
    pred = logits.argmax(axis=1)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"logits": logits.ravel().tolist(), "shape": list(logits.shape), "predictions": pred.tolist()}, f)
    else:
        print(" ".join(str(int(c)) for c in pred))
    return 0


if __name__ == "__main__":
    sys.exit(main())
