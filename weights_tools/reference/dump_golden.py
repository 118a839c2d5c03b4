"""Dump every layer's output of the PyTorch reference model, for layer-by-layer engine tests.

Usage:
    /usr/bin/python3 -m weights_tools.reference.dump_golden MODEL_OR_CHECKPOINT
        (--input IMAGE_OR_NPY | --random SEED [--shape N,C,H,W]) [--float64] -o GOLDEN.safetensors

What it is: runs `weights_tools.reference` with forward hooks and writes a safetensors file with
the network input (`input`) and the outputs named as the engine names its nodes, i.e. PyTorch
module names (see `golden_modules`), float32, with `__metadata__` {"format": "spdinfer-golden",
"format_version": "2", "layers": JSON list of the layer names in execution order, "family",
"source_name"}. With --float64 the same model, its weights and the same input widened to float64,
is run too, and each layer's float64 output (the truth both fp32 runs are judged against) is
stored as two float32 tensors `f64.hi/LAYER` + `f64.lo/LAYER` (hi = the value rounded to float32,
lo = the rest rounded to float32: hi + lo keeps ~48 significant bits, and the container and the
engine's reader stay float32-only), with metadata "float64": "hi+lo". docs/golden-format.md
describes the format.
What it is not: a pre-processing reference. Images are decoded with PIL when it is installed
(otherwise pass a .npy) and resized with bilinear interpolation that need not match the engine's
to the last bit; the exact input used is stored as `input`, so comparisons never depend on it.
"""

import argparse
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from weights_tools.convert.safetensors_io import write_safetensors
from weights_tools.reference import common, load
from weights_tools.reference.resnet_spd import ResNetSPD, ResidualBlock
from weights_tools.reference.yolov5 import YOLOv5

GOLDEN_FORMAT = 'spdinfer-golden'
GOLDEN_FORMAT_VERSION = '2'
# Tensor name prefixes of a layer's float64 truth, split into two float32 parts.
F64_HI, F64_LO = 'f64.hi/', 'f64.lo/'

# Blocks whose outputs are worth a name of their own inside a top-level layer: the units the
# engine builds nodes for (a Conv is conv+bn+act fused, so its parts are not dumped).
_YOLO_BLOCKS = (common.Conv, common.Focus, common.Bottleneck, common.C3, common.SPP, common.SPPF)


def golden_modules(model):
    """(name, module) pairs whose outputs are dumped.

    YOLOv5: every top-level layer `model.{i}` (for Detect the decoded output), every Conv, Focus,
    Bottleneck, C3, SPP and SPPF inside one (`model.3.cv1`, `model.3.m.0`, `model.3.m.0.cv1`, ...)
    and Detect's per-level 1x1 convs `model.{i}.m.{k}` (raw, N x na*no x H x W).
    ResNet-SPD: `conv1` and its Conv `conv1.conv`, every block `convK_x.j` with its
    `convK_x.j.residual_function` and, where it is not the identity, `convK_x.j.shortcut`,
    then `avg_pool` (N, C, 1, 1) and `fc`.
    """
    picked = []
    if isinstance(model, YOLOv5):
        for name, mod in model.named_modules():
            parts = name.split('.')
            if len(parts) == 2 and parts[0] == 'model':
                picked.append((name, mod))
            elif isinstance(mod, _YOLO_BLOCKS):
                picked.append((name, mod))
            elif len(parts) == 4 and isinstance(model.model[int(parts[1])], common.Detect) and parts[2] == 'm':
                picked.append((name, mod))
    elif isinstance(model, ResNetSPD):
        for name, mod in model.named_modules():
            if name in ('conv1', 'conv1.conv', 'avg_pool', 'fc') or isinstance(mod, ResidualBlock):
                picked.append((name, mod))
            elif name.endswith('.residual_function') or (name.endswith('.shortcut') and len(mod) > 0):
                picked.append((name, mod))
    else:
        raise TypeError(f'golden_modules: unsupported model type {type(model).__name__}')
    return picked


def run_with_hooks(model, x):
    """Run `model` on `x`; return an ordered dict layer name -> output array (of `x`'s dtype),
    in completion order."""
    outputs = {}
    handles = []

    def hook_for(name):
        def hook(_module, _inputs, out):
            if name in outputs:  # a module run twice would make its name ambiguous
                raise RuntimeError(f'golden layer {name} ran more than once')
            if isinstance(out, tuple):  # Detect in eval: (decoded, raw per level)
                out = out[0]
            # clone: later in-place ops must not change what was recorded
            outputs[name] = out.detach().to(x.dtype).clone().numpy()
        return hook

    for name, mod in golden_modules(model):
        handles.append(mod.register_forward_hook(hook_for(name)))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return outputs


# ---- input ---------------------------------------------------------------------------------

def _resize(img, h, w):
    """(1, 3, H0, W0) float in 0-255 -> (1, 3, h, w), bilinear (cv2 INTER_LINEAR-like, no antialias)."""
    return F.interpolate(img, size=(h, w), mode='bilinear', align_corners=False)


def preprocess(rgb, preset):
    """HWC uint8 RGB image -> (1, 3, H, W) float32 network input per the model's preset."""
    h, w = preset['input_size']
    img = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
    h0, w0 = img.shape[-2:]
    mode = preset.get('resize', 'resize')
    if mode == 'letterbox':
        # as YOLOv5's letterbox(auto=False): scale to fit, pad with grey 114 centred
        r = min(h / h0, w / w0)
        nh, nw = int(round(h0 * r)), int(round(w0 * r))
        if (nh, nw) != (h0, w0):
            img = _resize(img, nh, nw)
        dh, dw = (h - nh) / 2, (w - nw) / 2
        top, left = int(round(dh - 0.1)), int(round(dw - 0.1))
        out = torch.full((1, 3, h, w), 114.0)
        out[..., top:top + nh, left:left + nw] = img.round().clamp(0, 255)
        img = out
    elif mode == 'resize_crop':
        # scale the image to cover (h, w), then take the centre
        r = max(h / h0, w / w0)
        nh, nw = max(h, int(round(h0 * r))), max(w, int(round(w0 * r)))
        img = _resize(img, nh, nw)
        top, left = (nh - h) // 2, (nw - w) // 2
        img = img[..., top:top + h, left:left + w]
    elif mode == 'resize':
        img = _resize(img, h, w)
    else:
        raise ValueError(f"preprocess: unknown resize mode {mode!r}; expected letterbox, resize_crop or resize")
    img = img * float(preset.get('scale', 1.0))
    mean = torch.tensor(preset.get('mean', [0.0, 0.0, 0.0]), dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(preset.get('std', [1.0, 1.0, 1.0]), dtype=torch.float32).view(1, 3, 1, 1)
    return ((img - mean) / std).float()


def read_image(path):
    """An image file as an HWC uint8 RGB array; .npy holds either that or a ready (N,C,H,W) input."""
    if path.endswith('.npy'):
        return np.load(path, allow_pickle=False)
    try:
        from PIL import Image
    except ImportError:
        sys.exit(f'dump_golden: cannot decode {path}: PIL is not installed (Debian: python3-pil); '
                 'pass a .npy (HWC uint8 RGB image or N,C,H,W float32 input) or --random instead')
    with Image.open(path) as im:
        return np.asarray(im.convert('RGB'))


def make_input(args, preset):
    if args.random is not None:
        if args.shape:
            shape = [int(v) for v in args.shape.split(',')]
            if len(shape) != 4:
                sys.exit(f'dump_golden: --shape wants N,C,H,W, got {args.shape!r}')
        else:
            shape = [1, 3, *preset['input_size']]
        # uniform [0, 1): the range of a /255-scaled image, good enough for numerics checks
        return torch.from_numpy(np.random.default_rng(args.random).random(shape, dtype=np.float32))
    arr = read_image(args.input)
    if arr.ndim == 4:
        return torch.from_numpy(arr.astype(np.float32))
    if arr.ndim != 3 or arr.shape[2] != 3:
        sys.exit(f'dump_golden: {args.input}: expected an HxWx3 image or an N,C,H,W array, got shape {arr.shape}')
    return preprocess(arr, preset)


def split_float64(a):
    """A float64 array as (hi, lo) float32 arrays with hi + lo == a to ~48 significant bits."""
    hi = a.astype(np.float32)
    with np.errstate(invalid='ignore', over='ignore'):  # inf - inf in non-finite layers stays NaN
        lo = (a - hi.astype(np.float64)).astype(np.float32)
    return hi, lo


def join_float64(hi, lo):
    """The float64 array that split_float64 stored as (hi, lo)."""
    return hi.astype(np.float64) + lo.astype(np.float64)


def dump_golden(model, meta, x, out_path, source_name='', float64=False):
    """Run `model` (family in `meta`) on `x` and write the golden file; returns the layer names.
    With `float64`, also the outputs of a float64 copy of `model` on `x` widened (the truth)."""
    outputs = run_with_hooks(model, x)
    tensors = {'input': x.numpy().astype(np.float32)}
    tensors.update(outputs)
    if float64:
        truth = run_with_hooks(copy.deepcopy(model).double(), x.double())
        if list(truth) != list(outputs):
            raise RuntimeError('dump_golden: the float64 run reached other layers than the float32 run')
        for name, value in truth.items():
            tensors[F64_HI + name], tensors[F64_LO + name] = split_float64(value)
    metadata = {
        'format': GOLDEN_FORMAT,
        'format_version': GOLDEN_FORMAT_VERSION,
        'layers': json.dumps(list(outputs)),
        'family': meta['family'],
        'source_name': source_name,
    }
    if float64:
        metadata['float64'] = 'hi+lo'
    write_safetensors(out_path, tensors, metadata)
    return list(outputs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('model', help='spdinfer model file (.safetensors) or a checkpoint (.pt)')
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--input', help='image file (needs PIL) or .npy (HWC uint8 RGB, or N,C,H,W float32)')
    src.add_argument('--random', type=int, metavar='SEED', help='uniform [0,1) input from this seed')
    p.add_argument('--shape', help='N,C,H,W for --random (default 1,3 and the preset input size)')
    p.add_argument('--float64', action='store_true',
                   help='also store every layer of the model run in float64 (the truth spdinfer golden judges '
                        'both the engine and PyTorch fp32 against)')
    p.add_argument('-o', '--output', required=True, help='golden .safetensors to write')
    args = p.parse_args(argv)
    if args.shape and args.random is None:
        p.error('--shape goes with --random')
    model, meta = load(args.model)
    x = make_input(args, meta['preprocess'])
    layers = dump_golden(model, meta, x, args.output, os.path.basename(args.model), args.float64)
    truth = ' (and their float64 truth)' if args.float64 else ''
    print(f'{args.output}: input {tuple(x.shape)} and {len(layers)} layers{truth}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
