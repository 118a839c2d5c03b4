"""Randomly initialised models of either family, written as real checkpoints and converted.

What it is: the fixtures golden tests and benchmarks run on when no trained weights are at hand.
Weights are PyTorch's default initialisation; BatchNorm's affine parameters and running
statistics are randomised too (defaults of 1 and 0 would hide a mis-folded BatchNorm). With
--calibrate IMAGE... the running statistics are instead those of real photos run through the
network (crops of the images, in train mode, one batch): activations then have the magnitudes of
a trained model's, which is what numerical-precision measurements need (random statistics let
them grow or vanish layer after layer). The model goes through the same path a user's does: a
checkpoint on disk (`torch.save` of a state_dict, plus the YAML for YOLO), then
`weights_tools.convert`.
What it is not: a trained model; its outputs are numbers to compare, not predictions.
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch

from weights_tools.convert import convert
from weights_tools.convert.converter import choose_preprocess
from weights_tools.reference import build_model
from weights_tools.reference.dump_golden import preprocess, read_image
from weights_tools.reference.configs import space_depth_config, yolov5_config
from weights_tools.reference.resnet_spd import resnet_spd_architecture


def randomize_batchnorm(model, seed):
    """Random BN gamma, beta, mean and variance, reproducible from `seed`."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
    return model


def photo_crops(paths, preprocess_preset, size, count, seed):
    """`count` crops of each image in `paths` (random position and scale), each resized to `size`
    (h, w) and normalised as `preprocess_preset` says: an (N, 3, h, w) float32 batch."""
    rng = np.random.default_rng(seed)
    preset = dict(preprocess_preset, input_size=list(size), resize='resize')
    crops = []
    for path in paths:
        rgb = read_image(path)
        H, W = rgb.shape[:2]
        for _ in range(count):
            f = rng.uniform(0.5, 1.0)
            h, w = max(8, int(H * f)), max(8, int(W * f))
            y, x = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
            crops.append(preprocess(rgb[y:y + h, x:x + w], preset))
    return torch.cat(crops)


def calibrate_batchnorm(model, inputs):
    """Set every BatchNorm's running mean and variance to the statistics of its input when
    `inputs` runs through `model` in train mode (one batch, so the statistics downstream layers
    see in train mode are exactly those they get in eval mode). Returns `model`, in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: after one batch, that batch's statistics
    model.train()
    with torch.no_grad():
        model(inputs)
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    return model.eval()


def architecture_for(name):
    """(family, architecture) for a model name: yolov5n..x, space_depth_n..l, or
    resnet_spd:BLOCK:B1,B2,B3,B4:CLASSES[:WIDTH] (e.g. resnet_spd:bottleneck:3,4,6,3:200)."""
    if name.startswith('yolov5'):
        return 'yolov5', yolov5_config(name[len('yolov5'):])
    if name.startswith('space_depth_'):
        return 'yolov5', space_depth_config(name[len('space_depth_'):])
    if name.startswith('resnet_spd:'):
        parts = name.split(':')
        block, layers, classes = parts[1], [int(x) for x in parts[2].split(',')], int(parts[3])
        width = int(parts[4]) if len(parts) > 4 else 64
        return 'resnet_spd', resnet_spd_architecture(block, layers, classes, width)
    raise ValueError(f'unknown model name {name!r}')


def write_random_model(name, out_path, seed=0, preset=None, calibrate=(), calibrate_size=None, crops=8):
    """Build `name` with random weights, save it as a checkpoint, convert it to `out_path`.
    With image paths in `calibrate`, BatchNorm's running statistics are those of `crops` crops
    per image of size `calibrate_size` (h, w; default the preset's input size).
    Returns the converter's metadata."""
    family, arch = architecture_for(name)
    torch.manual_seed(seed)
    model = randomize_batchnorm(build_model(family, arch), seed)
    if calibrate:
        num_classes = arch.get('nc', arch.get('num_classes'))
        pre = choose_preprocess(family, num_classes, preset)
        size = calibrate_size or pre['input_size']
        calibrate_batchnorm(model, photo_crops(calibrate, pre, size, crops, seed))
    with tempfile.TemporaryDirectory(prefix='spdinfer-random-') as tmp:
        checkpoint = os.path.join(tmp, 'model.pt')
        torch.save(model.state_dict(), checkpoint)
        yaml_path = None
        if family == 'yolov5':
            # JSON is valid YAML: the converter's --yaml path reads it as a user's yaml file.
            yaml_path = os.path.join(tmp, 'model.yaml')
            with open(yaml_path, 'w') as f:
                json.dump({k: v for k, v in arch.items() if k != 'stride'}, f)
        return convert(checkpoint, out_path, yaml_path=yaml_path, preset=preset)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('name', help='yolov5n..x, space_depth_n..l, or resnet_spd:BLOCK:B1,B2,B3,B4:CLASSES[:WIDTH]')
    p.add_argument('-o', '--output', required=True, help='model file to write (.safetensors)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--preset', help='preprocessing preset (see weights_tools.convert)')
    p.add_argument('--calibrate', nargs='+', default=(), metavar='IMAGE',
                   help='set BatchNorm statistics from crops of these photos (realistic magnitudes)')
    p.add_argument('--calibrate-size', metavar='HxW', help="crop size for --calibrate (default: the preset's input size)")
    p.add_argument('--crops', type=int, default=8, help='crops per --calibrate image (default 8)')
    args = p.parse_args(argv)
    size = None
    if args.calibrate_size:
        try:
            size = [int(v) for v in args.calibrate_size.lower().split('x')]
        except ValueError:
            size = []
        if len(size) != 2 or min(size) <= 0:
            p.error(f'--calibrate-size wants HxW, e.g. 256x320, got {args.calibrate_size!r}')
    try:
        write_random_model(args.name, args.output, args.seed, args.preset, args.calibrate, size, args.crops)
    except (ValueError, OSError) as e:
        print(f'random_model: error: {e}', file=sys.stderr)
        return 2
    print(f'random_model: wrote {args.output} ({args.name}, seed {args.seed})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
