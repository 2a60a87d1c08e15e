#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Read a blasnet model file and run it with numpy alone.

A file written by blasnet's saveParams is safetensors: an 8-byte little-endian header length,
a JSON header, then the raw tensors. Its metadata key ``network`` describes the whole network
(every layer with its hyper-parameters, the tensor names and layout, the input). This script
reads the file with the standard library and numpy (no safetensors package) and computes what
blasnet's predict() computes, with the course's conventions:

* Affine: y = x . W + b with W of shape (in, out); the input is flattened first.
* Convolution: cross-correlation, W (filters, channels, height, width), zero padding.
* Pooling (max): the padding is zeros that take part in the max.
* AvgPooling: padded zeros count in the mean.
* Dropout: the course's multiplies by (1 - ratio) at test time; inverted Dropout passes through.
* BatchNormalization: every feature of the flattened input (N, D) is normalised with the
  running mean and variance, eps 1e-6.

Usage:
    python3 blasnet_numpy.py model.safetensors                   # describe the network
    python3 blasnet_numpy.py model.safetensors --inputs x.safetensors [--name x] [--json out.json]
        run it on a tensor of the inputs file (N samples of the input shape, float32) and
        print the predicted classes, or write {"logits": [...], "predictions": [...]} as JSON
"""
import argparse
import json
import struct
import sys

import numpy as np

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


def read_safetensors(path):
    """Returns ({name: numpy array}, {metadata key: string}) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} does not fit a file of {len(data)} bytes")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        raw = body[begin:end]
        if e["dtype"] == "BF16":
            # bfloat16 is the upper half of a float32.
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif e["dtype"] in _DTYPES:
            arr = np.frombuffer(raw, dtype=_DTYPES[e["dtype"]])
        else:
            raise ValueError(f"{path}: tensor {name!r} has dtype {e['dtype']}, which this reader does not know")
        tensors[name] = arr.reshape(e["shape"])
    return tensors, metadata


def read_description(metadata, path="the file"):
    """The network description of a blasnet file (metadata format version 2)."""
    if metadata.get("format") != "blasnet" or "network" not in metadata:
        raise ValueError(f"{path}: has no blasnet network description (saved by blasnet 0.1? load and save it again)")
    d = json.loads(metadata["network"])
    if d.get("version") != 2:
        raise ValueError(f"{path}: network description version {d.get('version')}; this reader knows version 2")
    return d


def _windows(x, fh, fw, stride, pad):
    """(N, C, OH, OW, fh, fw) views of x (N, C, H, W) padded with zeros on every side."""
    if pad > 0:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    v = np.lib.stride_tricks.sliding_window_view(x, (fh, fw), axis=(2, 3))
    return v[:, :, ::stride, ::stride]


def _affine(x, W, b):
    return x.reshape(x.shape[0], -1) @ W + b


def _convolution(x, W, b, stride, pad):
    fn, c, fh, fw = W.shape
    win = _windows(x, fh, fw, stride, pad)                       # N, C, OH, OW, fh, fw
    n, _, oh, ow = win.shape[:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * fh * fw)
    out = cols @ W.reshape(fn, -1).T + b                          # (N*OH*OW, FN)
    return out.reshape(n, oh, ow, fn).transpose(0, 3, 1, 2)


class Network:
    """A blasnet network rebuilt from its file; predict(x) returns the logits (float64)."""

    def __init__(self, path):
        self.path = path
        tensors, metadata = read_safetensors(path)
        self.description = read_description(metadata, path)
        self.layout = self.description["layout"]
        self.layers = []
        for i, spec in enumerate(self.description["layers"]):
            if spec["type"] == "custom":
                raise ValueError(f"{path}: layer {i} is a layer of the user's own class ({spec.get('name')})")
            own = {k: tensors[name].astype(np.float64) for k, name in spec.get("tensors", {}).items()}
            if spec["type"] == "Affine" and self.layout == "torch":
                own["W"] = own["W"].T                                 # nn.Linear keeps (out, in)
            self.layers.append((spec, own))

    @property
    def input_shape(self):
        return self.description["input"]["shape"]

    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        for spec, t in self.layers:
            kind = spec["type"]
            if kind == "Affine":
                x = _affine(x, t["W"], t["b"])
            elif kind == "Convolution":
                x = _convolution(x, t["W"], t["b"], spec["stride"], spec["pad"])
            elif kind == "Pooling":
                x = _windows(x, *spec["window"], spec["stride"], spec["pad"]).max(axis=(4, 5))
            elif kind == "AvgPooling":
                x = _windows(x, *spec["window"], spec["stride"], spec["pad"]).mean(axis=(4, 5))
            elif kind == "Relu":
                x = np.maximum(x, 0)
            elif kind == "Sigmoid":
                x = 1 / (1 + np.exp(-x))
            elif kind == "Tanh":
                x = np.tanh(x)
            elif kind == "Dropout":
                x = x * (1.0 if spec["inverted"] else 1.0 - spec["ratio"])
            elif kind == "BatchNormalization":
                flat = x.reshape(x.shape[0], -1)
                y = (flat - t["runningMean"]) / np.sqrt(t["runningVar"] + spec["eps"]) * t["gamma"] + t["beta"]
                x = y.reshape(x.shape)
            else:
                raise ValueError(f"{self.path}: unknown layer type {kind}")
        return x

    def predict(self, x, batch_size=250):
        """Logits of x (N, *input shape), computed batch by batch."""
        x = np.asarray(x)
        return np.concatenate([self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    def summary(self):
        d = self.description
        lines = [f"{self.path}: {d['kind']}, tensors in {self.layout} layout, input {d['input']['shape']}"
                 + (f" in {d['input']['range']}" if d["input"].get("range") else "")]
        for i, (spec, _) in enumerate(self.layers):
            hp = {k: v for k, v in spec.items() if k not in ("type", "tensors", "outputShape")}
            lines.append(f"  {i:2d} {spec['type']:<18} {json.dumps(hp)} -> {spec.get('outputShape')}")
        return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description="Run a blasnet model file with numpy alone.")
    p.add_argument("model")
    p.add_argument("--inputs", help="safetensors file holding the inputs (float32, N x input shape)")
    p.add_argument("--name", default="x", help="name of the inputs tensor in that file (default x)")
    p.add_argument("--json", help="write the logits and predictions to this JSON file")
    a = p.parse_args(argv)
    net = Network(a.model)
    if a.inputs is None:
        print(net.summary())
        return 0
    x = read_safetensors(a.inputs)[0][a.name].astype(np.float32)
    logits = net.predict(x)
    pred = logits.argmax(axis=1)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"logits": logits.astype(float).ravel().tolist(), "shape": list(logits.shape),
                       "predictions": pred.tolist()}, f)
    else:
        print(" ".join(str(int(c)) for c in pred))
    return 0


if __name__ == "__main__":
    sys.exit(main())
