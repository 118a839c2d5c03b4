"""Quantise an ONNX model to int8 with ONNX Runtime's own tool: the ORT and OpenVINO int8 columns of
bench/compare --precision int8.

What it is: `onnxruntime.quantization.quantize_static` in QDQ format (QuantizeLinear /
DequantizeLinear pairs around each quantised operator, the format ONNX Runtime recommends for CPUs and
the one OpenVINO reads as int8), weights int8 per output channel, activations uint8 per tensor,
calibrated on the same images `spdinfer calibrate` is given: each image is read, turned into the
model's input exactly as the spdinfer model file's `preprocess` metadata says (the images are
already of the input's size, so letterbox / resize / crop leave them as they are; what remains is
scale, mean and std), and fed in batches of the model's batch size. The calibration method matches
spdinfer's: minmax -> MinMax, percentile -> Percentile, kl -> Entropy. The model goes through ORT's
`quant_pre_process` (shape inference and graph clean-up, the step ONNX Runtime's documentation puts
before quantize_static) first; without it OpenVINO 2026.4 crashes compiling the ResNet-SPD QDQ
models.

What it is not: an accuracy tool (bench/compare's models have random weights), or a general
quantiser: it assumes the input is RGB (N, 3, H, W) of the images' size.

    VENV/bin/python bench/quantize_onnx.py model.onnx --model-file model.safetensors \
        --images DIR --method kl -o model.int8.onnx
"""

import argparse
import json
import os
import struct
import sys

import numpy as np


def preprocess_metadata(path):
    """The `preprocess` JSON of an spdinfer model file (safetensors header metadata)."""
    with open(path, 'rb') as f:
        size = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(size))
    return json.loads(header['__metadata__']['preprocess'])


def image_tensor(path, pre):
    """(1, 3, H, W) float32 as spdinfer preprocesses an image already of the input's size."""
    from PIL import Image
    with Image.open(path) as im:
        x = np.asarray(im.convert('RGB'), dtype=np.float32)
    x = x * np.float32(pre.get('scale', 1.0))
    x = (x - np.asarray(pre.get('mean', [0, 0, 0]), np.float32)) / np.asarray(pre.get('std', [1, 1, 1]), np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def main(argv=None):
    p = argparse.ArgumentParser(prog='quantize_onnx', description=__doc__.split('\n')[0])
    p.add_argument('model', help='float32 .onnx file')
    p.add_argument('--model-file', required=True, help='the spdinfer model file it was exported from (for preprocess)')
    p.add_argument('--images', required=True, help='folder of calibration images of the input size')
    p.add_argument('--method', default='kl', choices=('minmax', 'percentile', 'kl'))
    p.add_argument('-o', '--output', required=True)
    args = p.parse_args(argv)

    import onnxruntime.quantization as q

    pre = preprocess_metadata(args.model_file)
    files = sorted(os.path.join(args.images, f) for f in os.listdir(args.images))
    if not files:
        p.error(f'{args.images}: no images')

    import onnx
    graph_input = onnx.load(args.model, load_external_data=False).graph.input[0]
    input_name = graph_input.name
    # The export has a fixed batch: the images go in batches of it (the last one filled by
    # starting over), so that a batch-32 model sees the same images as a batch-1 one.
    batch = max(1, graph_input.type.tensor_type.shape.dim[0].dim_value)
    batches = [[files[(b + i) % len(files)] for i in range(batch)] for b in range(0, len(files), batch)]

    class Reader(q.CalibrationDataReader):
        def __init__(self, name):
            self.name, self.pending = name, iter(batches)

        def get_next(self):
            paths = next(self.pending, None)
            return None if paths is None else {self.name: np.concatenate([image_tensor(p, pre) for p in paths])}

    method = {'minmax': q.CalibrationMethod.MinMax, 'percentile': q.CalibrationMethod.Percentile,
              'kl': q.CalibrationMethod.Entropy}[args.method]
    from onnxruntime.quantization.shape_inference import quant_pre_process
    prepared = args.output + '.prepared.onnx'
    tmp = args.output + '.tmp.onnx'
    try:
        quant_pre_process(args.model, prepared)
        q.quantize_static(prepared, tmp, Reader(input_name), quant_format=q.QuantFormat.QDQ, per_channel=True,
                          activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8, calibrate_method=method)
        os.replace(tmp, args.output)
    finally:
        for leftover in (prepared, tmp):
            if os.path.exists(leftover):
                os.remove(leftover)
    print(json.dumps({'output': args.output, 'images': len(files), 'method': args.method}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
