# SPDX-License-Identifier: MIT
"""PyTorch yardstick for the benchmark workloads W1-W5 (shared/BENCHMARKS.md).

Runs the same networks, optimizers, batch size (100) and random 1x28x28 inputs
in [0,1) with 10 classes as blasnet's bench/run.ts, so that `npm run bench --
--compare` can print blasnet's figures beside PyTorch's. PyTorch (Debian's
python3-torch, run with /usr/bin/python3) is only ever a comparison; it is
never a dependency of the package.

Figures per workload, each the median / min / max of --reps timed repetitions
after untimed ones (at least --warmup, for at least --warmup-seconds):
  - training samples/s over --steps consecutive steps (forward + loss +
    backward + optimizer.step), batch 100;
  - inference samples/s: forward in eval mode under torch.no_grad over
    --infer-batches batches of 1000;
  - peak_rss_mib: ru_maxrss of this process after the workload, and
    train_peak_rss_mib: the same read after training and before inference
    (all training runs first), i.e. the peak while training. Both are per
    workload only when one workload runs per process (--only), which is how
    the harness calls this script; importing torch alone takes ~240 MiB.

With --serve (one --only workload, how `npm run bench -- --compare` calls it)
the script times one repetition per command read from stdin, so that the
harness can interleave PyTorch's repetitions one by one with blasnet's:
"train" or "infer" (the first of each kind warms up first; each is preceded
by --settle-seconds of untimed single steps or batches, which bring the
caches and threads back after the other processes ran) answers one JSON line
{"value": samples/s}; "end" prints the workload's JSON object as --json does,
its figures over the repetitions timed, and exits.

Set OPENBLAS_NUM_THREADS=1 in the environment: torch's OpenMP threads plus
OpenBLAS's own pool oversubscribe the two cores of the benchmark machine
(W1 ran six times slower that way). It must be set before torch loads, so
the script can only warn when it is missing.

Example:
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_workloads.py \\
      --only W4 --threads 1 --reps 5 --steps 50 --warmup 1 --json
"""

import argparse
import ctypes
import json
import os
import resource
import statistics
import sys
import time

WORKLOADS = ("W1", "W2", "W3", "W4", "W5")
NAMES = {
    "W1": "mlp-small",
    "W2": "mlp-deep",
    "W3": "mlp-bn",
    "W4": "simple-convnet",
    "W5": "deep-convnet",
}
BATCH = 100
INFER_BATCH = 1000
# The course's BatchNormalization keeps running = 0.9 * running + 0.1 * batch
# and divides by sqrt(var + 10e-7); PyTorch's momentum weights the new batch.
BN_MOMENTUM = 0.1
BN_EPS = 10e-7


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Train and run the benchmark workloads W1-W5 in PyTorch "
        "and report samples/s and peak RSS (set OPENBLAS_NUM_THREADS=1).")
    p.add_argument("--only", action="append", choices=WORKLOADS,
                   help="run only this workload (repeatable); default: all")
    p.add_argument("--threads", type=int, default=1,
                   help="torch.set_num_threads value (default 1)")
    p.add_argument("--reps", type=int, default=5,
                   help="timed repetitions per figure (default 5)")
    p.add_argument("--steps", type=int, default=50,
                   help="training steps per repetition (default 50)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed repetitions before timing (default 1)")
    p.add_argument("--warmup-seconds", type=float, default=0.0,
                   help="keep warming up until this many seconds have passed "
                   "(default 0: just --warmup repetitions)")
    p.add_argument("--infer-batches", type=int, default=10,
                   help="batches of 1000 per inference repetition (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-mkldnn", action="store_true",
                   help="disable oneDNN (torch.backends.mkldnn.enabled = False); "
                   "it is on by default and not always faster here")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per workload instead of text")
    p.add_argument("--serve", action="store_true",
                   help="time one repetition per command read from stdin "
                   "(train, infer, end; see above); needs one --only workload")
    p.add_argument("--settle-seconds", type=float, default=0.1,
                   help="with --serve: untimed steps before each timed "
                   "repetition, for this long (default 0.1)")
    args = p.parse_args(argv)
    if args.serve and len(args.only or ()) != 1:
        p.error("--serve needs exactly one --only workload")
    for name in ("threads", "reps", "steps", "infer_batches"):
        if getattr(args, name) < 1:
            p.error("--%s must be >= 1, got %d"
                    % (name.replace("_", "-"), getattr(args, name)))
    if args.warmup < 0:
        p.error("--warmup must be >= 0, got %d" % args.warmup)
    for name in ("warmup_seconds", "settle_seconds"):
        if not getattr(args, name) >= 0:
            p.error("--%s must be >= 0, got %s"
                    % (name.replace("_", "-"), getattr(args, name)))
    return args


def build(torch, workload):
    """Network and optimizer of one workload, as listed in BENCHMARKS.md."""
    nn = torch.nn
    if workload == "W1":
        net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 40), nn.Sigmoid(),
            nn.Linear(40, 20), nn.Sigmoid(),
            nn.Linear(20, 10))
        return net, torch.optim.SGD(net.parameters(), lr=0.1)
    if workload == "W2":
        layers = [nn.Flatten()]
        fan_in = 784
        for _ in range(6):
            layers += [nn.Linear(fan_in, 100), nn.ReLU()]
            fan_in = 100
        layers.append(nn.Linear(100, 10))
        net = nn.Sequential(*layers)
        return net, torch.optim.SGD(net.parameters(), lr=0.01)
    if workload == "W3":
        layers = [nn.Flatten()]
        fan_in = 784
        for _ in range(5):
            layers += [nn.Linear(fan_in, 100),
                       nn.BatchNorm1d(100, eps=BN_EPS, momentum=BN_MOMENTUM),
                       nn.ReLU(), nn.Dropout(0.15)]
            fan_in = 100
        layers.append(nn.Linear(100, 10))
        net = nn.Sequential(*layers)
        return net, torch.optim.Adam(net.parameters(), lr=0.001)
    if workload == "W4":
        net = nn.Sequential(
            nn.Conv2d(1, 30, 5, stride=1, padding=0), nn.ReLU(),
            nn.MaxPool2d(2, stride=2),
            nn.Flatten(),
            nn.Linear(30 * 12 * 12, 100), nn.ReLU(),
            nn.Linear(100, 10))
        return net, torch.optim.Adam(net.parameters(), lr=0.001)
    if workload == "W5":
        # 28 -> 28 -> 28 -> pool 14 -> 14 -> (pad 2) 16 -> pool 8 -> 8 -> 8 -> pool 4
        net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2, stride=2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=2), nn.ReLU(),
            nn.MaxPool2d(2, stride=2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2, stride=2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 50), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(50, 10), nn.Dropout(0.5))
        return net, torch.optim.Adam(net.parameters(), lr=0.001)
    raise ValueError("unknown workload %r" % (workload,))


def stats(values):
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "reps": values}


def blas_summary(torch):
    """BLAS_INFO from torch's build config plus the BLAS library actually mapped."""
    info = "unknown"
    try:
        for part in torch.__config__.show().replace("\n", ",").split(","):
            if "BLAS_INFO=" in part:
                info = part[part.index("BLAS_INFO="):].strip()
                break
    except Exception:  # only a label; never fail the benchmark over it
        pass
    mapped = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if "blas" in os.path.basename(path) and path not in mapped:
                    mapped.append(path)
    except OSError:
        pass
    config = None
    for path in mapped:
        try:
            get = ctypes.CDLL(path).openblas_get_config
        except (OSError, AttributeError):
            continue
        get.restype = ctypes.c_char_p
        config = get().decode()
        break
    parts = [info]
    if config:
        parts.append(config.strip())
    elif mapped:
        parts.append(os.path.basename(mapped[-1]))
    if torch.backends.mkldnn.is_available():
        parts.append("oneDNN enabled" if torch.backends.mkldnn.enabled
                     else "oneDNN disabled")
    return "; ".join(parts)


def warm_up(rep, args):
    """Untimed repetitions: at least --warmup, and until --warmup-seconds have passed."""
    start = time.perf_counter()
    done = 0
    while done < args.warmup or time.perf_counter() - start < args.warmup_seconds:
        rep()
        done += 1


class Workload:
    """One workload's network, optimizer and data, timed a repetition at a time."""

    def __init__(self, torch, workload, args):
        self.torch, self.workload, self.args = torch, workload, args
        torch.manual_seed(args.seed)
        gen = torch.Generator().manual_seed(args.seed + 1)
        self.net, self.opt = build(torch, workload)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        # A small pool of distinct batches cycled through, so a step does not
        # see exactly the same data every time (the arithmetic is the same
        # either way).
        self.pool = 10
        self.xs = torch.rand(self.pool, BATCH, 1, 28, 28, generator=gen)
        self.ts = torch.randint(0, 10, (self.pool, BATCH), generator=gen)
        self.x_inf = torch.rand(INFER_BATCH, 1, 28, 28, generator=gen)
        self.train, self.infer = [], []
        self.train_peak_kib = None

    def train_steps(self, steps):
        """Seconds for `steps` consecutive training steps."""
        self.net.train()
        start = time.perf_counter()
        for i in range(steps):
            j = i % self.pool
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.net(self.xs[j]), self.ts[j])
            loss.backward()
            self.opt.step()
        elapsed = time.perf_counter() - start
        if not self.torch.isfinite(loss).item():
            raise RuntimeError("%s: training loss is not finite" % self.workload)
        return elapsed

    def infer_batches(self, batches):
        """Seconds for `batches` inference batches."""
        self.net.eval()
        with self.torch.no_grad():
            start = time.perf_counter()
            for _ in range(batches):
                out = self.net(self.x_inf)
            elapsed = time.perf_counter() - start
        if out.shape != (INFER_BATCH, 10):
            raise RuntimeError("%s: inference output shape %s"
                               % (self.workload, tuple(out.shape)))
        return elapsed

    def train_rep(self):
        return self.args.steps * BATCH / self.train_steps(self.args.steps)

    def infer_rep(self):
        return (self.args.infer_batches * INFER_BATCH
                / self.infer_batches(self.args.infer_batches))

    def timed(self, kind, settle):
        """One timed repetition of `kind` ("train" or "infer"), recorded.

        All training comes before any inference, so that ru_maxrss read at the
        first inference is the peak while training (batch-1000 inference
        needs more). The first repetition of a kind warms up first; with
        settle, untimed single steps (batches) run for --settle-seconds first.
        """
        train = kind == "train"
        if train and self.infer:
            raise RuntimeError("train after infer: all training comes first")
        done = self.train if train else self.infer
        rep = self.train_rep if train else self.infer_rep
        if not done:
            if not train:
                self.train_peak_kib = resource.getrusage(
                    resource.RUSAGE_SELF).ru_maxrss
            warm_up(rep, self.args)
        if settle and self.args.settle_seconds > 0:
            one = (lambda: self.train_steps(1)) if train else (
                lambda: self.infer_batches(1))
            start = time.perf_counter()
            one()
            while time.perf_counter() - start < self.args.settle_seconds:
                one()
        value = rep()
        done.append(value)
        return value

    def result(self):
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        torch, args = self.torch, self.args
        return {
            "workload": self.workload,
            "name": NAMES[self.workload],
            "framework": "pytorch",
            "threads": torch.get_num_threads(),
            "batch": BATCH,
            "steps": args.steps,
            "warmup": args.warmup,
            "warmup_seconds": args.warmup_seconds,
            "infer_batch": INFER_BATCH,
            "infer_batches": args.infer_batches,
            "train_samples_per_s": stats(self.train),
            "infer_samples_per_s": stats(self.infer),
            # ru_maxrss is KiB on Linux
            "peak_rss_mib": peak_kib / 1024.0,
            "train_peak_rss_mib": (self.train_peak_kib or peak_kib) / 1024.0,
            "mkldnn": torch.backends.mkldnn.enabled,
            "torch_version": torch.__version__,
            "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        }


def run_workload(torch, workload, args):
    """--reps training repetitions in a row, then --reps inference ones."""
    w = Workload(torch, workload, args)
    for kind in ("train", "infer"):
        for _ in range(args.reps):
            w.timed(kind, settle=False)
    return w.result()


def serve(torch, workload, args, blas):
    """One timed repetition per command on stdin (see the module's doc)."""
    w = Workload(torch, workload, args)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd in ("train", "infer"):
            print(json.dumps({"value": w.timed(cmd, settle=True)}), flush=True)
        elif cmd == "end":
            result = w.result()
            result["blas"] = blas
            print(json.dumps(result), flush=True)
            return 0
        else:
            raise RuntimeError("unknown command %r (expected train, infer "
                               "or end)" % cmd)
    raise RuntimeError("stdin closed before the end command")


def main(argv):
    args = parse_args(argv)
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        sys.stderr.write(
            "warning: OPENBLAS_NUM_THREADS is %s, expected 1: torch's threads "
            "plus OpenBLAS's own pool oversubscribe the cores and the figures "
            "will be far too low\n"
            % (repr(os.environ["OPENBLAS_NUM_THREADS"])
               if "OPENBLAS_NUM_THREADS" in os.environ else "not set"))
    try:
        import torch
    except ImportError as err:
        sys.stderr.write("PyTorch is not available (%s); install python3-torch "
                         "and run with /usr/bin/python3\n" % err)
        return 3
    torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    # One OpenMP pool only: inter-op threads would add a second.
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    blas = blas_summary(torch)
    if args.serve:
        return serve(torch, args.only[0], args, blas)
    for workload in args.only or WORKLOADS:
        result = run_workload(torch, workload, args)
        result["blas"] = blas
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            tr, inf = result["train_samples_per_s"], result["infer_samples_per_s"]
            print("%s %-15s threads %d  train %9.0f/s (%.0f-%.0f)  "
                  "infer %9.0f/s (%.0f-%.0f)  peak RSS %.0f MiB (training %.0f)"
                  % (workload, NAMES[workload], result["threads"],
                     tr["median"], tr["min"], tr["max"],
                     inf["median"], inf["min"], inf["max"],
                     result["peak_rss_mib"], result["train_peak_rss_mib"]),
                  flush=True)
    if not args.json:
        print("torch %s; %s" % (torch.__version__, blas))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
