"""The timing protocol that bench/torch_bench.py and bench/onnx_bench.py share with `spdinfer bench`.

What it is: the command line (MODEL --input X.npy --threads T --runs R --warmup W
[--save-output Y.npy]), the loop (W untimed runs, then R timed ones, each timed alone with
time.perf_counter; with R = W = 0 one untimed run, so --save-output has an output) and the one
JSON line bench/compare reads: {"engine", "version", "threads", "shape", "runs", "times_ms",
"median_ms", "output_shape", "load_ms", ...}. Needs only the standard library and NumPy, so it
imports under Debian's Python and the benchmark venv alike.
What it is not: the engines' set-up (threads, precision, session options), which each runner owns.
"""

import argparse
import json
import time

import numpy as np


def parser(description, model_help):
    p = argparse.ArgumentParser(description=description)
    p.add_argument('model', help=model_help)
    p.add_argument('--input', required=True, help='input tensor (N, 3, H, W) float32 .npy')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--runs', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--save-output', help='write the last run\'s output here (.npy)')
    return p


def timed_runs(run, runs, warmup):
    """(per-run times in ms, the last output) of `warmup` untimed calls of run() then `runs` timed ones."""
    y = None
    for _ in range(warmup):
        y = run()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        y = run()
        times.append(1000.0 * (time.perf_counter() - t0))
    if y is None:
        y = run()
    return times, y


def report(engine, version, threads, shape, times, output_shape, load_ms, **extra):
    """Print the result line bench/compare reads."""
    out = {'engine': engine, 'version': version, 'threads': threads, 'shape': list(shape), 'runs': len(times),
           'times_ms': [round(t, 4) for t in times], 'median_ms': float(np.median(times)) if times else None,
           'output_shape': list(output_shape), 'load_ms': round(load_ms, 1), **extra}
    print(json.dumps(out))
