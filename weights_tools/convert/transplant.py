"""Transplant a standard YOLOv5 (v6/v7) checkpoint into an SPD-YOLOv5 that computes the same thing.

Usage:
  /usr/bin/python3 -m weights_tools.convert.transplant SRC.pt -o OUT [--no-verify]

writes
  OUT.safetensors   spdinfer model file (metadata as weights_tools.convert writes it: the source's
                    class names, preprocess and source_sha256; the SPD architecture and strides)
  OUT.pt            {'state_dict', 'yaml', 'names'} for training code (plain tensors, lists and
                    strings: torch.load needs no model class); `weights_tools.convert OUT.pt`
                    takes it too

What it is: the exact mapping of docs/transplant.md. The 6x6 stride-2 stem becomes Focus (its taps
rearranged over the space_to_depth slots), every 3x3 stride-2 padding-1 Conv becomes a stride-1
Conv + space_to_depth, and each first conv that reads an SPD output gets 4x the input channels:
the original weights on slot 0, zeros on slots 1-3. Layers are renumbered (yolov5n/s/m/l map onto
the reference space_depth_n/s/m/l, Detect model.24 -> model.30). Unless --no-verify, both models
are run in PyTorch (weights_tools.reference) on a random input and must agree to 1e-4 relative.
What it is not: training or fine-tuning (the SPD model starts as the source model; slots 1-3 learn
from zero), nor a general graph rewriter: architectures it cannot map exactly (another stem, a
strided conv other than 3x3 padding 1, modules it does not know) are refused, naming the layer.
Reading the checkpoint goes through weights_tools.convert, so no checkpoint code ever runs.
"""

import argparse
import json
import os
import sys
import tempfile
from collections import OrderedDict

import numpy as np

from weights_tools.convert import ConvertError, convert, yolov5_strides_from_yaml
from weights_tools.convert.safetensors_io import read_safetensors, write_safetensors

# Modules mapped as they are (only their `from` indices and layer numbers change).
_KEPT = {'Conv', 'C3', 'SPPF', 'SPP', 'Concat', 'nn.Upsample', 'Detect', 'Bottleneck'}
# Layers whose output is a channel-wise rearrangement of their inputs: an SPD layout passes through.
_PASS_THROUGH = {'Concat', 'nn.Upsample'}
# The first convs of a module that read its input: these get the 4x zero-padded input channels.
_INPUT_CONVS = {'Conv': ('conv.weight',), 'C3': ('cv1.conv.weight', 'cv2.conv.weight'),
                'SPPF': ('cv1.conv.weight',), 'SPP': ('cv1.conv.weight',)}
VERIFY_RTOL = 1e-4
OUTPUT_SUFFIXES = ('.safetensors', '.pt')


class TransplantError(ValueError):
    """The source cannot be mapped exactly; str() says which layer and why."""


# ---- the architecture --------------------------------------------------------------------------

def _conv_args(args):
    """(c2, k, s, p, extra args) of a YAML Conv [c2, k=1, s=1, p=None, g, act]."""
    c2, k, s, p = list(args[:4]) + [None, 1, 1, None][len(args):4]
    return c2, k, s, p, list(args[4:])


def map_architecture(arch):
    """The SPD architecture for a standard YOLOv5 one, and the plan to move its weights.

    Returns (new_arch, plan) where plan is a list over the source layers of
    (source index, new index of the layer holding its weights, module name, `from` of the source
    layer as absolute indices). Source layer i's *output* (what later `from`s refer to) is
    out_index[i]: the space_to_depth after a strided conv, else the new layer itself.
    """
    layers = list(arch['backbone']) + list(arch['head'])
    n_backbone = len(arch['backbone'])
    out_index, plan, backbone, head = [], [], [], []
    for i, (f, n, name, args) in enumerate(layers):
        where = f'layer {i} ({name} {list(args)})'
        sources = [f] if isinstance(f, int) else list(f)
        absolute = [s + i if s < 0 else s for s in sources]
        if any(not 0 <= s < i for s in absolute if not (i == 0 and s == -1)):
            raise TransplantError(f'{where}: `from` {f} does not name an earlier layer')
        new_i = len(backbone) + len(head)
        # `-1` keeps meaning "the previous layer": the new previous layer is the source's output.
        new_f = [-1 if s == -1 else out_index[a] for s, a in zip(sources, absolute)] if i else [-1]
        new_f = new_f[0] if isinstance(f, int) else new_f
        target = backbone if i < n_backbone else head
        if i == 0:
            c2, k, s, p, extra = _conv_args(args) if name == 'Conv' else (None,) * 4 + ([],)
            if name != 'Conv' or (k, s, p, extra, n, f) != (6, 2, 2, [], 1, -1):
                raise TransplantError(f'{where}: the stem is not the YOLOv5 v6/v7 one '
                                      '(Conv [c, 6, 2, 2] on the input), so there is no exact Focus')
            target.append([-1, 1, 'Focus', [c2, 3]])
            out_index.append(new_i)
        elif name not in _KEPT:
            raise TransplantError(f'{where}: module {name!r} has no exact SPD mapping here '
                                  f'(mapped: {", ".join(sorted(_KEPT))})')
        elif name == 'Conv':
            c2, k, s, p, extra = _conv_args(args)
            if n != 1:
                raise TransplantError(f'{where}: a repeated Conv (n={n}) is not mapped')
            if s == 1:
                target.append([new_f, 1, name, list(args)])
                out_index.append(new_i)
            elif s == 2 and k == 3 and p in (None, 1) and not extra:
                target.append([new_f, 1, 'Conv', [c2, 3, 1]])
                target.append([-1, 1, 'space_to_depth', [1]])
                out_index.append(new_i + 1)
            else:
                raise TransplantError(f'{where}: only 3x3 padding-1 stride-2 convs (groups 1, default '
                                      f'activation) map exactly to conv + space_to_depth')
        else:
            if name == 'Detect' and i != len(layers) - 1:
                raise TransplantError(f'{where}: Detect is not the last layer')
            target.append([new_f, n, name, list(args)])
            out_index.append(new_i)
        plan.append((i, new_i, name, absolute))
    new_arch = OrderedDict((k, v) for k, v in arch.items() if k not in ('backbone', 'head', 'stride'))
    new_arch['backbone'], new_arch['head'] = backbone, head
    if 'stride' in arch:
        new_arch['stride'] = list(arch['stride'])
    return new_arch, plan


# ---- the weights ---------------------------------------------------------------------------------

def focus_stem_weight(w6):
    """6x6 stride-2 padding-2 kernel (O, C, 6, 6) -> Focus's 3x3 kernel (O, 4C, 3, 3).

    Focus reads s[slot*C + c] with slot (r, q) = (row parity, column parity) in the order
    (0,0), (1,0), (0,1), (1,1); its 3x3 tap (a, b) at output (i, j) reads input pixel
    (2(i-1+a) + r, 2(j-1+b) + q), which is the 6x6 tap (2a + r, 2b + q) (padding 2 = 2 x 1).
    """
    out, c, kh, kw = w6.shape
    if (kh, kw) != (6, 6):
        raise TransplantError(f'stem kernel is {kh}x{kw}, expected 6x6')
    slots = [w6[:, :, r::2, q::2] for r, q in ((0, 0), (1, 0), (0, 1), (1, 1))]
    return np.ascontiguousarray(np.concatenate(slots, axis=1))


def expand_input_channels(w, layout, where):
    """Conv weight (O, C, kh, kw) reading a tensor whose channels, segment by segment, are
    `layout` [(channels, is_spd)] -> the weight for the SPD model's tensor: each SPD segment of
    c channels becomes 4c (slot 0 the original channels, slots 1-3 zero weights)."""
    total = sum(c for c, _ in layout)
    if w.shape[1] != total:
        raise TransplantError(f'{where}: weight {list(w.shape)} reads {w.shape[1]} channels, '
                              f'the architecture gives it {total}')
    new_c = sum(4 * c if spd else c for c, spd in layout)
    out = np.zeros((w.shape[0], new_c) + w.shape[2:], dtype=w.dtype)
    old = new = 0
    for c, spd in layout:
        out[:, new:new + c] = w[:, old:old + c]
        old, new = old + c, new + (4 * c if spd else c)
    return out


def _output_channels(tensors, i, name):
    """Channels of source layer i's output, read from its weights (so the YAML and the weights
    cannot disagree silently)."""
    if name in _PASS_THROUGH:
        return None
    if name == 'Detect':
        return 0
    last = {'Conv': 'bn.weight', 'C3': 'cv3.bn.weight', 'SPPF': 'cv2.bn.weight',
            'SPP': 'cv2.bn.weight', 'Bottleneck': 'cv2.bn.weight'}[name]
    key = f'model.{i}.{last}'
    if key not in tensors:
        raise TransplantError(f'layer {i} ({name}): {key} missing from the weights')
    return int(tensors[key].shape[0])


def map_weights(arch, plan, tensors):
    """Source tensors (names model.<i>...) -> SPD model tensors, in the source's order."""
    layers = list(arch['backbone']) + list(arch['head'])
    layouts = []  # per source layer: its output channels as [(channels, is_spd)]
    moved = OrderedDict()
    renamed = {}
    for i, new_i, name, sources in plan:
        args = layers[i][3]
        in_layout = [seg for s in sources if s >= 0 for seg in layouts[s]] if i else [(arch.get('ch', 3), False)]
        expand = {}
        if any(spd for _, spd in in_layout):
            if name == 'Detect':
                # Detect reads each input with its own 1x1 conv m.<k>.
                expand = {f'm.{k}.weight': layouts[s] for k, s in enumerate(sources)
                          if any(spd for _, spd in layouts[s])}
            elif name in _INPUT_CONVS:
                if name == 'Conv' and len(args) > 4 and args[4] != 1:
                    raise TransplantError(f'layer {i} (Conv {list(args)}): a grouped conv reading an '
                                          'SPD output cannot take zero-padded channels exactly')
                expand = {k: in_layout for k in _INPUT_CONVS[name]}
            elif name not in _PASS_THROUGH:
                # e.g. a Bottleneck: its residual add exists only when c_in == c_out, which 4x breaks
                raise TransplantError(f'layer {i} ({name}) reads an SPD output; only Conv, C3, SPPF, '
                                      'SPP, Concat, nn.Upsample and Detect can take one exactly')
        c_out = _output_channels(tensors, i, name)
        is_spd = i > 0 and name == 'Conv' and _conv_args(args)[2] == 2  # (the stem becomes Focus)
        layouts.append(in_layout if c_out is None else [(c_out, is_spd)])
        prefix = f'model.{i}.'
        for key in [k for k in tensors if k.startswith(prefix)]:
            rest = key[len(prefix):]
            w = tensors[key]
            if i == 0:
                if rest == 'conv.weight':
                    w = focus_stem_weight(w)
                elif not rest.startswith('bn.'):
                    raise TransplantError(f'{key}: not a tensor of the Conv stem')
                rest = 'conv.' + rest  # Focus wraps its Conv: model.0.conv.{conv,bn}
            elif rest in expand:
                w = expand_input_channels(w, expand.pop(rest), key)
            moved[f'model.{new_i}.{rest}'] = w
            renamed[key] = f'model.{new_i}.{rest}'
        if expand:
            raise TransplantError(f'layer {i} ({name}): no {", ".join(expand)} among its weights')
    stray = [k for k in tensors if k not in renamed]
    if stray:
        raise TransplantError(f'{stray[0]}: not a tensor of any layer')
    return moved


# ---- the whole transplant ------------------------------------------------------------------------

def _source(src):
    """(tensors, decoded metadata) of the source exactly as weights_tools.convert reads it."""
    with tempfile.TemporaryDirectory(prefix='spdinfer-transplant-') as tmp:
        path = os.path.join(tmp, 'source.safetensors')
        convert(src, path)
        return read_safetensors(path)


def transplant(tensors, metadata):
    """(SPD tensors, SPD metadata) for a converted standard YOLOv5 (tensors + model-file metadata)."""
    if metadata.get('family') != 'yolov5':
        raise TransplantError(f'a {metadata.get("family")} model, not YOLOv5')
    arch = json.loads(metadata['architecture'])
    new_arch, plan = map_architecture(arch)
    new_tensors = map_weights(arch, plan, tensors)
    # The strides must come out the same from the new layers (Focus and each SPD halve, as before).
    strides = yolov5_strides_from_yaml(new_arch)
    if strides != arch['stride']:
        raise TransplantError(f'SPD strides {strides} differ from the source {arch["stride"]}')
    # SPD concatenates even and odd rows/columns: every level needs an even size, i.e. the input a
    # multiple of the largest stride (the letterbox pads to input_size).
    size = json.loads(metadata['preprocess'])['input_size']
    if any(s % max(strides) for s in size):
        raise TransplantError(f'input size {size} is not a multiple of {max(strides)}: space_to_depth '
                              'needs even sizes at every level')
    new_meta = OrderedDict(metadata)
    new_meta['architecture'] = json.dumps(new_arch)
    return new_tensors, new_meta


def verify(tensors, metadata, new_tensors, new_metadata, shape=(1, 3, 64, 96), seed=0):
    """Max relative error (max |diff| / max |source|) of the Detect output of both models in
    PyTorch on a random input; raises TransplantError above VERIFY_RTOL."""
    import torch

    from weights_tools.reference import model_from_tensors

    old, _ = model_from_tensors(tensors, metadata, 'source')
    new, _ = model_from_tensors(new_tensors, new_metadata, 'transplant')
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        want, got = old(x)[0], new(x)[0]
    err = float((got - want).abs().max() / want.abs().max())
    if not err <= VERIFY_RTOL:
        raise TransplantError(f'the SPD model differs from the source by {err:.3g} relative (> {VERIFY_RTOL})')
    return err


def training_state_dict(new_tensors, new_metadata):
    """The SPD tensors as torch tensors, in the built model's order, with the BatchNorm counters
    the model files omit (zeros), so `load_state_dict(strict=True)` takes it."""
    import torch

    from weights_tools.reference import build_yolov5

    expected = build_yolov5(json.loads(new_metadata['architecture'])).state_dict()
    state = OrderedDict()
    for name, ref in expected.items():
        if name in new_tensors:
            state[name] = torch.from_numpy(np.ascontiguousarray(new_tensors[name]))
        elif name.endswith('num_batches_tracked'):
            state[name] = torch.zeros_like(ref)
        else:
            raise TransplantError(f'{name}: the SPD architecture needs it and the transplant has none')
    return state


def output_base(out):
    for suffix in OUTPUT_SUFFIXES:
        if out.endswith(suffix):
            return out[:-len(suffix)]
    return out


def write_outputs(base, new_tensors, new_metadata):
    """Write base.safetensors and base.pt; returns their paths."""
    import torch

    names = json.loads(new_metadata['class_names'])
    yaml_dict = OrderedDict((k, v) for k, v in json.loads(new_metadata['architecture']).items()
                            if k != 'stride')  # strides follow from the layers
    state = training_state_dict(new_tensors, new_metadata)
    paths = {k: base + k for k in ('.safetensors', '.pt')}
    write_safetensors(paths['.safetensors'], new_tensors, new_metadata)
    torch.save({'state_dict': state, 'yaml': dict(yaml_dict), 'names': names}, paths['.pt'])
    return paths


def main(argv=None):
    p = argparse.ArgumentParser(prog='transplant', description=__doc__.split('\n')[0])
    p.add_argument('source', metavar='SRC.pt', help='standard YOLOv5 v6/v7 checkpoint (or model file)')
    p.add_argument('-o', '--output', metavar='OUT', required=True,
                   help='output base name: writes OUT.safetensors and OUT.pt')
    p.add_argument('--no-verify', action='store_true', help='skip the PyTorch comparison of both models')
    args = p.parse_args(argv)
    try:
        if args.source.endswith('.safetensors'):
            tensors, metadata = read_safetensors(args.source)
        else:
            tensors, metadata = _source(args.source)
        new_tensors, new_metadata = transplant(tensors, metadata)
        err = None if args.no_verify else verify(tensors, metadata, new_tensors, new_metadata)
        paths = write_outputs(output_base(args.output), new_tensors, new_metadata)
    except (TransplantError, ConvertError, ValueError, OSError) as e:
        where = '' if isinstance(e, ConvertError) else f'{args.source}: '  # it names its file
        print(f'transplant: error: {where}{e}', file=sys.stderr)
        return 2
    checked = '' if err is None else f'; PyTorch outputs agree to {err:.2g} relative'
    print(f'transplant: wrote {", ".join(paths.values())}{checked}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
