"""Randomly initialised models of either family, written as real checkpoints and converted.

What it is: the fixtures golden tests and benchmarks run on when no trained weights are at hand.
Weights are PyTorch's default initialisation; BatchNorm's affine parameters and running
statistics are randomised too (defaults of 1 and 0 would hide a mis-folded BatchNorm). The model
goes through the same path a user's does: a checkpoint on disk (`torch.save` of a state_dict,
plus the YAML for YOLO), then `weights_tools.convert`.
What it is not: a trained model; its outputs are numbers to compare, not predictions.
"""

import argparse
import json
import os
import sys
import tempfile

import torch

from weights_tools.convert import convert
from weights_tools.reference import build_model
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


def write_random_model(name, out_path, seed=0, preset=None):
    """Build `name` with random weights, save it as a checkpoint, convert it to `out_path`.
    Returns the converter's metadata."""
    family, arch = architecture_for(name)
    torch.manual_seed(seed)
    model = randomize_batchnorm(build_model(family, arch), seed)
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
    args = p.parse_args(argv)
    try:
        write_random_model(args.name, args.output, args.seed, args.preset)
    except (ValueError, OSError) as e:
        print(f'random_model: error: {e}', file=sys.stderr)
        return 2
    print(f'random_model: wrote {args.output} ({args.name}, seed {args.seed})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
