"""Time the project's PyTorch reference model on one input: the PyTorch column of bench/compare.

What it is: loads a spdinfer model file with weights_tools.reference.load_model (the fp32 eval
module the engine is judged against), runs it under torch.inference_mode with
torch.set_num_threads(T), `--warmup` untimed runs then `--runs` timed ones, and prints one JSON
object: {"engine": "torch", "version", "threads", "shape", "times_ms": [...], "median_ms",
"output_shape", "load_ms"}. With --save-output the output of the last run is written as .npy.
For YOLO models the output is Detect's decoded tensor (bs, anchors, no), the one spdinfer and the
ONNX export produce. Peak memory is measured by the parent (bench/compare) from the child's rusage.
What it is not: a training-time or TorchScript benchmark; the module runs eagerly as written.

    /usr/bin/python3 bench/torch_bench.py MODEL.safetensors --input X.npy --threads 1 --runs 10
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.protocol import parser, report, timed_runs  # noqa: E402
from weights_tools.reference import load_model  # noqa: E402


class FirstOutput(torch.nn.Module):
    """YOLO's eval forward returns (decoded, raw levels): keep the decoded tensor only."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        y = self.model(x)
        return y[0] if isinstance(y, (tuple, list)) else y


def main(argv=None):
    args = parser(__doc__.split('\n')[0], 'spdinfer model file (.safetensors)').parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    start = time.perf_counter()
    model = FirstOutput(load_model(args.model)).eval()
    x = torch.from_numpy(np.load(args.input).astype(np.float32, copy=False))
    load_ms = 1000.0 * (time.perf_counter() - start)

    with torch.inference_mode():
        times, y = timed_runs(lambda: model(x), args.runs, args.warmup)
    if args.save_output:
        np.save(args.save_output, y.numpy())
    report('torch', torch.__version__, torch.get_num_threads(), x.shape, times, y.shape, load_ms)
    return 0


if __name__ == '__main__':
    sys.exit(main())
