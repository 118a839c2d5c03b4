"""YOLOv5 (v6/v7 and the SPD-Conv fork's space_depth_*) built from its yaml dict.

What it is: `build_yolov5(arch)` turns the `architecture` dict of a spdinfer model file (the
model's yaml plus optional `stride` and `ch`) into an eval-mode module whose state_dict names are
upstream's (`model.{i}.cv1.conv.weight`, `model.{i}.anchors`, ...), parsed with the same rules as
upstream `parse_model` (depth/width multipliers, make_divisible(8), `from` indices).
What it is not: upstream's `Model`: no augmentation, profiling, fusing or bias initialisation.
Weights come from `load_state_dict`; a freshly built model has PyTorch's random init.
"""

import torch
import torch.nn as nn

from .common import C3, SPP, SPPF, Bottleneck, Concat, Conv, Detect, Focus, make_divisible, space_to_depth

# Module names as they appear in yamls; anything else is refused with the layer's index.
MODULES = {
    'Conv': Conv,
    'Focus': Focus,
    'Bottleneck': Bottleneck,
    'C3': C3,
    'SPP': SPP,
    'SPPF': SPPF,
    'Concat': Concat,
    'Detect': Detect,
    'space_to_depth': space_to_depth,
    'nn.Upsample': nn.Upsample,
    'nn.BatchNorm2d': nn.BatchNorm2d,
}
# Modules whose first argument is an output channel count scaled by width_multiple.
_CHANNEL_MODULES = (Conv, Focus, Bottleneck, C3, SPP, SPPF)

# YOLOv5's Model.initialize_weights sets these on every BatchNorm; eps changes eval numerics.
BN_EPS = 1e-3
BN_MOMENTUM = 0.03

# Upstream eval()s string arguments; only these names ever occur, so resolve them without eval.
_ARG_NAMES = {'None': None, 'True': True, 'False': False}


def _resolve_args(args, nc, anchors):
    names = dict(_ARG_NAMES, nc=nc, anchors=anchors)
    return [names.get(a, a) if isinstance(a, str) else a for a in args]


def parse_model(arch):
    """Layers of a yaml dict -> (nn.Sequential of layers tagged with .i and .f, channels out)."""
    nc, anchors = arch['nc'], arch['anchors']
    gd, gw = arch['depth_multiple'], arch['width_multiple']
    na = len(anchors[0]) // 2 if isinstance(anchors, list) else anchors
    no = na * (nc + 5)
    ch = [arch.get('ch', 3)]
    layers = []
    for i, (f, n, name, args) in enumerate(arch['backbone'] + arch['head']):
        if name not in MODULES:
            raise ValueError(f'yolov5 architecture layer {i}: unknown module {name!r}; '
                             f'known: {sorted(MODULES)}')
        m = MODULES[name]
        args = _resolve_args(list(args), nc, anchors)
        n = max(round(n * gd), 1) if n > 1 else n
        c_in = ch[f] if isinstance(f, int) else None
        if m in _CHANNEL_MODULES:
            c2 = args[0]
            if c2 != no:
                c2 = make_divisible(c2 * gw, 8)
            args = [c_in, c2, *args[1:]]
            if m is C3:
                args.insert(2, n)  # C3 repeats its bottlenecks itself
                n = 1
        elif m is nn.BatchNorm2d:
            args, c2 = [c_in], c_in
        elif m is Concat:
            c2 = sum(ch[x] for x in f)
        elif m is Detect:
            args.append([ch[x] for x in f])
            if isinstance(args[1], int):  # a count of anchors rather than their sizes
                args[1] = [list(range(args[1] * 2))] * len(f)
            c2 = None
        elif m is space_to_depth:
            c2 = 4 * c_in
        else:
            c2 = c_in
        layer = nn.Sequential(*(m(*args) for _ in range(n))) if n > 1 else m(*args)
        layer.i, layer.f = i, f
        layers.append(layer)
        # ch is indexed by layer number, so the input channel entry is dropped after layer 0
        ch = [c2] if i == 0 else ch + [c2]
    return nn.Sequential(*layers), ch


class YOLOv5(nn.Module):
    """The layer list run as a DAG: each layer reads the previous output or those named by `f`."""

    def __init__(self, arch):
        super().__init__()
        self.yaml = arch
        self.model, _ = parse_model(arch)
        for mod in self.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.eps, mod.momentum = BN_EPS, BN_MOMENTUM
        self.stride = self._init_detect(arch)

    def _init_detect(self, arch):
        det = self.model[-1]
        if not isinstance(det, Detect):
            return None
        if arch.get('stride'):
            stride = torch.tensor(arch['stride'], dtype=torch.float32)
        else:  # as upstream: measure the downsampling with a 256x256 forward pass
            # (in eval mode, unlike upstream, so BatchNorm statistics stay untouched)
            s = 256
            det.stride = torch.ones(det.nl)  # placeholder: decoding needs some value
            self.eval()
            with torch.no_grad():
                _, raw = self.forward(torch.zeros(1, arch.get('ch', 3), s, s))
            stride = torch.tensor([s / x.shape[-3] for x in raw])
        det.stride = stride
        # yaml anchors are pixels; the state_dict (and Detect) keep them in grid units
        with torch.no_grad():
            det.anchors /= stride.view(-1, 1, 1)
            _check_anchor_order(det)
        self.eval()
        return stride

    def forward(self, x):
        outputs = []
        for layer in self.model:
            if layer.f != -1:
                x = outputs[layer.f] if isinstance(layer.f, int) else [x if j == -1 else outputs[j] for j in layer.f]
            x = layer(x)
            outputs.append(x)
        return x


def _check_anchor_order(det):
    """Upstream flips the anchor list when anchor areas and strides run in opposite orders."""
    area = det.anchors.prod(-1).mean(-1).view(-1)
    da, ds = area[-1] - area[0], det.stride[-1] - det.stride[0]
    if da and da.sign() != ds.sign():
        det.anchors[:] = det.anchors.flip(0)


def build_yolov5(arch):
    """Eval-mode YOLOv5 for an architecture dict (yaml dict, optionally with `stride`, `ch`)."""
    return YOLOv5(arch).eval()
