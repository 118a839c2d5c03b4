"""Export a spdinfer model file's architecture and weights to ONNX for the ONNX Runtime column.

What it is: builds the project's PyTorch module for MODEL (weights_tools.reference.load_model)
and writes it with torch.onnx.export (opset 13, constant folding, one input "input", one output
"output") for one fixed input shape. For YOLO models the output is Detect's decoded tensor, so the
decode (sigmoid, grid, anchors) is part of the ONNX graph and all three engines compute the same
thing. Needs only torch (Debian's torch 1.13 serialises ONNX itself; the `onnx` package is not
used).
What it is not: a deployment exporter (no dynamic axes, no simplification, no fp16).

    /usr/bin/python3 bench/export_onnx.py MODEL.safetensors --shape 1,3,640,640 -o model.onnx
"""

import argparse
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from bench.torch_bench import FirstOutput  # noqa: E402
from weights_tools.reference import load_model  # noqa: E402

OPSET = 13


def export(model_path, shape, out_path, opset=OPSET):
    model = FirstOutput(load_model(model_path)).eval()
    x = torch.rand(*shape)
    tmp = out_path + '.tmp'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer notes about Detect's Python-float stride
        torch.onnx.export(model, x, tmp, opset_version=opset, input_names=['input'], output_names=['output'],
                          do_constant_folding=True)
    os.replace(tmp, out_path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('model', help='spdinfer model file (.safetensors)')
    p.add_argument('--shape', required=True, help='N,3,H,W')
    p.add_argument('-o', '--output', required=True, help='.onnx file to write')
    p.add_argument('--opset', type=int, default=OPSET)
    args = p.parse_args(argv)
    shape = [int(s) for s in args.shape.split(',')]
    export(args.model, shape, args.output, args.opset)
    print(f'export_onnx: wrote {args.output} (opset {args.opset}, input {shape})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
