"""Writes the fuzz seed corpora in tests/fuzz/corpus/ (run from the repository root with
/usr/bin/python3 tests/fuzz/make_corpus.py [TARGET...]; the output is committed, so this only needs
re-running when the seeds should change).

What it is: small valid inputs for each libFuzzer target, so fuzzing starts from files that get
deep into the code instead of from nothing:
  model_file/    tiny model files (ResNet-SPD basic and bottleneck, SPD-YOLO, F16 copies) made
                 with the real converter, and hand-made edge cases (no tensors, zero-size tensor,
                 no spdinfer metadata)
  architecture/  harness specs (tests/fuzz/harness.h): architectures with tiny widths for both
                 families, some with raw weight bytes holding NaN / Inf / denormals
  args/          typical command lines, arguments separated by NUL bytes
  image/         small JPEG / PNG / BMP images (PIL)
Every seed stays under about 50 KB.
"""

import io
import json
import os
import struct
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the repository root: weights_tools
CORPUS = os.path.join(HERE, 'corpus')


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    assert len(data) <= 50 * 1024, f'{target}/{name} is {len(data)} bytes'
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


# A tiny SPD-YOLO: 8-channel layers (the smallest width YOLOv5's rounding allows), two levels.
TINY_SPD_YOLO = {
    'nc': 2, 'depth_multiple': 0.33, 'width_multiple': 0.25,
    'anchors': [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119]],
    'backbone': [[-1, 1, 'Focus', [16, 3]],
                 [-1, 1, 'Conv', [32, 3, 1]],
                 [-1, 1, 'space_to_depth', [1]],
                 [-1, 1, 'C3', [32]],
                 [-1, 1, 'Conv', [32, 3, 1]],
                 [-1, 1, 'space_to_depth', [1]],
                 [-1, 1, 'SPPF', [32, 5]]],
    'head': [[-1, 1, 'Conv', [32, 1, 1]],
             [-1, 1, 'nn.Upsample', ['None', 2, 'nearest']],
             [[-1, 3], 1, 'Concat', [1]],
             [-1, 1, 'C3', [32, False]],
             [[10, 7], 1, 'Detect', ['nc', 'anchors']]],
    'ch': 3,
}

# A tiny standard YOLOv5 (strided convs, SPP, shortcut C3 with depth scaling), three levels.
TINY_YOLO = {
    'nc': 1, 'depth_multiple': 0.33, 'width_multiple': 0.25,
    'anchors': [[10, 13, 16, 30], [30, 61, 62, 45], [116, 90, 156, 198]],
    'backbone': [[-1, 1, 'Conv', [32, 6, 2, 2]],
                 [-1, 1, 'Conv', [32, 3, 2]],
                 [-1, 3, 'C3', [32]],
                 [-1, 1, 'Conv', [32, 3, 2]],
                 [-1, 1, 'SPP', [32, [3, 5]]]],
    'head': [[-1, 1, 'Conv', [32, 1, 1]],
             [-1, 1, 'nn.Upsample', [None, 2, 'nearest']],
             [[-1, 2], 1, 'Concat', [1]],
             [-1, 1, 'C3', [32, False]],
             [-1, 1, 'Conv', [32, 3, 2]],
             [[-1, 5], 1, 'Concat', [1]],
             [[8, 10, 4], 1, 'Detect', ['nc', 'anchors']]],
    'ch': 3,
}


def resnet_arch(block, width, spd=True, classes=3):
    return {'block': block, 'expansion': 4 if block == 'bottleneck' else 1, 'stem_channels': width,
            'stage_blocks': [1, 1, 1, 1], 'stage_widths': [width, 2 * width, 4 * width, 8 * width],
            'stage_strides': [1, 2, 2, 2], 'spd': spd, 'num_classes': classes}


def strides_of(arch):
    from weights_tools.convert import yolov5_strides_from_yaml
    return yolov5_strides_from_yaml(arch)


def model_file_seeds():
    import torch
    from weights_tools.convert import convert
    from weights_tools.convert.safetensors_io import read_safetensors, write_safetensors
    from weights_tools.reference import build_model
    from weights_tools.reference.random_model import randomize_batchnorm, write_random_model

    with tempfile.TemporaryDirectory(prefix='spdinfer-corpus-') as tmp:
        files = {}
        for name, spec in [('resnet_basic', 'resnet_spd:basic:1,1,1,1:3:1'),
                           ('resnet_bottleneck', 'resnet_spd:bottleneck:1,1,1,1:3:1')]:
            out = os.path.join(tmp, name + '.safetensors')
            write_random_model(spec, out, seed=1, preset='cifar')
            files[name] = out
        # SPD-YOLO through the converter's state_dict + YAML path, as a user's file would be.
        torch.manual_seed(2)
        model = randomize_batchnorm(build_model('yolov5', dict(TINY_SPD_YOLO, stride=strides_of(TINY_SPD_YOLO))), 2)
        ckpt = os.path.join(tmp, 'model.pt')
        torch.save(model.state_dict(), ckpt)
        yaml_path = os.path.join(tmp, 'model.yaml')
        with open(yaml_path, 'w') as f:
            json.dump(TINY_SPD_YOLO, f)
        files['spd_yolo'] = os.path.join(tmp, 'spd_yolo.safetensors')
        convert(ckpt, files['spd_yolo'], yaml_path=yaml_path, input_size=(64, 64))

        for name, path in files.items():
            with open(path, 'rb') as f:
                data = f.read()
            if len(data) <= 50 * 1024:
                write('model_file', name + '.safetensors', data)
            # The same model in F16, as a half-precision checkpoint converts.
            tensors, metadata = read_safetensors(path)
            half = {k: v.astype(np.float16) for k, v in tensors.items()}
            out = os.path.join(tmp, name + '.f16.safetensors')
            write_safetensors(out, half, metadata)
            with open(out, 'rb') as f:
                write('model_file', name + '.f16.safetensors', f.read())

    def container(header, data=b''):
        text = json.dumps(header, separators=(',', ':')).encode()
        return struct.pack('<Q', len(text)) + text + data

    meta = {'format': 'spdinfer', 'format_version': '1'}
    write('model_file', 'no_tensors.safetensors', container({'__metadata__': meta}))
    write('model_file', 'zero_size.safetensors', container({
        '__metadata__': meta,
        'empty': {'dtype': 'F32', 'shape': [0, 3], 'data_offsets': [0, 0]},
        'h': {'dtype': 'F16', 'shape': [2], 'data_offsets': [0, 4]}}, b'\x00\x3c\x00\x7c'))
    write('model_file', 'no_metadata.safetensors', container({
        'a': {'dtype': 'F32', 'shape': [2, 1], 'data_offsets': [0, 8]}}, struct.pack('<2f', 1.5, -2)))


def spec(family, arch, preprocess=None, **extra):
    meta = {'family': family, 'architecture': arch,
            'preprocess': preprocess or {'input_size': [32, 32], 'scale': 1 / 255}}
    if family == 'yolov5':
        meta['class_names'] = [f'c{i}' for i in range(arch['nc'])]
    return json.dumps(dict({'metadata': meta}, **extra), separators=(',', ':'))


def architecture_seeds():
    nan, inf = struct.pack('<f', float('nan')), struct.pack('<f', float('inf'))
    special = (struct.pack('<4f', 0.25, -0.5, 1.0, 0.75) + nan + struct.pack('<f', 1e-42) + inf
               + struct.pack('<f', -3e38))
    spd_yolo = dict(TINY_SPD_YOLO, stride=strides_of(TINY_SPD_YOLO))
    yolo = dict(TINY_YOLO, stride=strides_of(TINY_YOLO))
    seeds = {
        'resnet_basic.json': spec('resnet_spd', resnet_arch('basic', 2)),
        'resnet_bottleneck.json': spec('resnet_spd', resnet_arch('bottleneck', 2)),
        'resnet_nospd.json': spec('resnet_spd', resnet_arch('basic', 2, spd=False), threads=2),
        'resnet_plan_error_odd.json': spec('resnet_spd', resnet_arch('basic', 1), input=[1, 3, 30, 32]),
        'spd_yolo.json': spec('yolov5', spd_yolo, {'input_size': [64, 64], 'resize': 'letterbox'}),
        'spd_yolo_2threads.json': spec('yolov5', spd_yolo, input=[2, 3, 32, 64], threads=2),
        'yolo.json': spec('yolov5', yolo, {'input_size': [64, 64]}),
        'yolo_small_input.json': spec('yolov5', yolo, input=[1, 3, 8, 8]),
    }
    for name, text in seeds.items():
        write('architecture', name, text)
    # Raw weight and input values after a NUL: denormals and huge values reach the ops (NaN and Inf
    # only through the input: a weight holding them is refused at load, as the last seed shows).
    finite = struct.pack('<7f', 0.25, -0.5, 1.0, 0.75, 1e-42, -3e38, 3e38)
    write('architecture', 'resnet_special_values.bin',
          spec('resnet_spd', resnet_arch('basic', 1)).encode() + b'\0' + finite)
    write('architecture', 'spd_yolo_special_values.bin',
          spec('yolov5', spd_yolo, input=[1, 3, 32, 32]).encode() + b'\0' + finite)
    write('architecture', 'resnet_nan_weights_build_error.bin',
          spec('resnet_spd', resnet_arch('basic', 1)).encode() + b'\0' + special)
    # With the variances as given too: refused when folding the first BatchNorm.
    write('architecture', 'resnet_raw_variance_build_error.bin',
          spec('resnet_spd', resnet_arch('basic', 1), raw_variance=True).encode() + b'\0' + special)


def args_seeds():
    lines = [
        ['info', 'model.safetensors'],
        ['info', 'model.safetensors', '--no-layers'],
        ['run', 'model.safetensors', '--input', 'x.npy', '--output', 'y.npy', '--outputs', 'model.3,model.4.cv1',
         '--threads', '2'],
        ['golden', 'model.safetensors', 'golden.safetensors', '--atol', '0', '--rtol=1e-4'],
        ['bench', 'model.safetensors', '--size', '256x320', '--batch', '2', '--threads', '2', '--runs', '3',
         '--warmup', '1', '--per-layer', '--json'],
        ['classify', 'model.safetensors', 'a.jpg', 'dir/', '*.png', '--topk', '3', '--labels', 'l.txt', '--json',
         '--size', '64', '--resize', 'resize_crop'],
        ['detect', 'model.safetensors', 'photo.jpg', '--img', '640', '--conf', '0.25', '--iou', '0.45',
         '--max-det', '100', '--classes', '0,2', '--agnostic', '--out', 'out', '--save-txt', '--json'],
        ['val', 'model.safetensors', 'data/', '--batch', '64', '--json', '--predictions', 'p.txt'],
        ['--help'],
        ['run', '--help'],
        ['--version'],
        ['detect', '--', 'm', '-x.jpg'],
        [],
    ]
    for i, line in enumerate(lines):
        write('args', f'argv{i:02d}', b'\0'.join(a.encode() for a in line))


def image_seeds():
    from PIL import Image
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), 'RGB')
    grey = Image.fromarray(rng.integers(0, 256, (9, 7), dtype=np.uint8), 'L')
    rgba = Image.fromarray(rng.integers(0, 256, (5, 6, 4), dtype=np.uint8), 'RGBA')
    rotated = Image.Exif()
    rotated[0x0112] = 6  # EXIF orientation: turn 90 degrees clockwise to stand upright
    for name, im, fmt, kw in [('rgb.jpg', rgb, 'JPEG', {'quality': 80}),
                              ('grey.jpg', grey, 'JPEG', {}),
                              ('progressive.jpg', rgb, 'JPEG', {'progressive': True}),
                              ('exif_orientation_6.jpg', rgb, 'JPEG', {'exif': rotated.tobytes()}),
                              ('rgb.png', rgb, 'PNG', {}),
                              ('grey.png', grey, 'PNG', {}),
                              ('rgba.png', rgba, 'PNG', {}),
                              ('palette.png', rgb.convert('P'), 'PNG', {}),
                              ('rgb.bmp', rgb, 'BMP', {}),
                              ('one_pixel.png', Image.new('RGB', (1, 1), (200, 10, 30)), 'PNG', {})]:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        write('image', name, buf.getvalue())
    # A 16-bit grey PNG.
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 65536, (4, 5), dtype=np.uint16).astype(np.int32), 'I').save(buf, 'PNG')
    write('image', 'grey16.png', buf.getvalue())


def main():
    which = sys.argv[1:] or ['model_file', 'architecture', 'args', 'image']
    for w in which:
        globals()[w + '_seeds']()
        print(f'make_corpus: wrote {os.path.join(CORPUS, w)}')


if __name__ == '__main__':
    main()
