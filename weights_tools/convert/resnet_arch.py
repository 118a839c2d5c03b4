"""Infer a ResNet-SPD architecture from a state_dict's tensor names and shapes.

What it is: `infer_resnet_spd(shapes)` reads the names/shapes the reference ResNet-SPD code
saves (`torch.save(net.state_dict())`) and returns the `architecture` dict of docs/design.md,
after checking that every tensor of the file is one the inferred network has, with the shape it
must have (`expected_resnet_spd_shapes` lists them). Anything else is an ArchitectureError that
names the tensor.

The network it recognises (the reference's layout, names as in its state_dict):
  conv1            Focus stem: space_to_depth, then conv1.conv.conv (12 -> C0, 1x1) + .bn + SiLU
  conv2_x..conv5_x stages of blocks; block `i` has residual_function.<k> and maybe shortcut.0/1
  fc               Linear(C_last -> num_classes)
Bottleneck(in, w), stride 1: 0 conv1x1 in->w, 1 BN, 2 ReLU, 3 conv3x3 w->w, 4 BN, 5 ReLU,
  6 conv1x1 w->4w, 7 BN.  Stride 2 with SPD: 0 conv1x1, 1 BN, 2 ReLU, 3 conv3x3 w->w (stride 1),
  4 space_to_depth, 5 BN(4w), 6 ReLU, 7 conv1x1 4w->4w, 8 BN(4w).
BasicBlock(in, w), stride 1: 0 conv3x3 in->w, 1 BN, 2 ReLU, 3 conv3x3 w->w, 4 BN.  Stride 2 with
  SPD: 0 conv3x3 in->w (stride 1), 1 space_to_depth, 2 BN(4w), 3 ReLU, 4 conv3x3 4w->w, 5 BN.
shortcut: 0 conv1x1 in->w*expansion (stride of the block) + 1 BN when the stride or the channel
  count changes, else identity (no tensors).

What it is not: it reads no files and builds no network. Stride cannot be seen in shapes, so the
reference's stage strides [1, 2, 2, 2] are assumed and checked against where the SPD layout
appears (only in the first block of stages 2-4). A network without any SPD layout is reported
with "spd": false (its stride-2 blocks would stride the 3x3 conv instead).
"""

import re
from collections import OrderedDict

STAGES = ("conv2_x", "conv3_x", "conv4_x", "conv5_x")
STAGE_STRIDES = (1, 2, 2, 2)
SPD_FACTOR = 4  # space_to_depth with block 2 multiplies channels by 4

# Output channels of a block = its width times this.
_EXPANSION = {"bottleneck": 4, "basic": 1}


class ArchitectureError(ValueError):
    """The state_dict is not a ResNet-SPD this converter can describe; the message says why."""


def _conv(name, cout, cin, k):
    return [(name + ".weight", (cout, cin, k, k))]


def _bn(name, c):
    return [(f"{name}.{p}", (c,)) for p in ("weight", "bias", "running_mean", "running_var")]


def _residual(block, cin, width, spd_here):
    """(name, shape) of one block's residual_function, in state_dict order."""
    p = "residual_function."
    e = width * _EXPANSION[block]
    s = SPD_FACTOR * width
    if block == "bottleneck" and spd_here:
        return (_conv(p + "0", width, cin, 1) + _bn(p + "1", width) + _conv(p + "3", width, width, 3)
                + _bn(p + "5", s) + _conv(p + "7", e, s, 1) + _bn(p + "8", e))
    if block == "bottleneck":
        return (_conv(p + "0", width, cin, 1) + _bn(p + "1", width) + _conv(p + "3", width, width, 3)
                + _bn(p + "4", width) + _conv(p + "6", e, width, 1) + _bn(p + "7", e))
    if spd_here:
        return (_conv(p + "0", width, cin, 3) + _bn(p + "2", s) + _conv(p + "4", e, s, 3)
                + _bn(p + "5", e))
    return (_conv(p + "0", width, cin, 3) + _bn(p + "1", width) + _conv(p + "3", e, width, 3)
            + _bn(p + "4", e))


def expected_resnet_spd_shapes(arch):
    """OrderedDict name -> shape of every tensor (num_batches_tracked aside) that the network
    described by `arch` (the dict infer_resnet_spd returns) has in its state_dict."""
    block = arch["block"]
    expansion = _EXPANSION[block]
    c0 = arch["stem_channels"]
    shapes = OrderedDict(_conv("conv1.conv.conv", c0, 3 * SPD_FACTOR, 1) + _bn("conv1.conv.bn", c0))
    cin = c0
    for stage, n, width, stride in zip(STAGES, arch["stage_blocks"], arch["stage_widths"],
                                       arch["stage_strides"]):
        for i in range(n):
            block_stride = stride if i == 0 else 1
            prefix = f"{stage}.{i}."
            spd_here = arch["spd"] and block_stride == 2
            for name, shape in _residual(block, cin, width, spd_here):
                shapes[prefix + name] = shape
            if block_stride != 1 or cin != width * expansion:
                for name, shape in (_conv("shortcut.0", width * expansion, cin, 1)
                                    + _bn("shortcut.1", width * expansion)):
                    shapes[prefix + name] = shape
            cin = width * expansion
    shapes["fc.weight"] = (arch["num_classes"], cin)
    shapes["fc.bias"] = (arch["num_classes"],)
    return shapes


def _shape(shapes, name):
    if name not in shapes:
        raise ArchitectureError(f"{name}: missing (not a ResNet-SPD state_dict?)")
    return tuple(shapes[name])


def _has_spd_layout(shapes, block, prefix):
    """Whether the block's tensors follow the space_to_depth layout (a BN at the index that only
    exists after space_to_depth)."""
    marker = "residual_function.8.weight" if block == "bottleneck" else "residual_function.2.weight"
    return prefix + marker in shapes


def infer_resnet_spd(shapes):
    """Architecture dict of docs/design.md from `shapes` (name -> shape tuple, the state_dict's
    tensors; num_batches_tracked entries are ignored). Raises ArchitectureError naming the
    first tensor that does not fit."""
    shapes = OrderedDict((k, tuple(v)) for k, v in shapes.items()
                         if not k.endswith(".num_batches_tracked"))
    stem = _shape(shapes, "conv1.conv.conv.weight")
    if len(stem) != 4 or stem[1] != 3 * SPD_FACTOR or stem[2:] != (1, 1):
        raise ArchitectureError(
            f"conv1.conv.conv.weight: shape {list(stem)}, expected [C, 12, 1, 1] (Focus stem)")

    first = _shape(shapes, "conv2_x.0.residual_function.0.weight")
    kernel_to_block = {(1, 1): "bottleneck", (3, 3): "basic"}
    block = kernel_to_block.get(first[2:]) if len(first) == 4 else None
    if block is None:
        raise ArchitectureError(f"conv2_x.0.residual_function.0.weight: shape {list(first)}, "
                                "expected a 1x1 (bottleneck) or 3x3 (basic) conv")

    stage_blocks, stage_widths, spd_seen = [], [], []
    for stage, stride in zip(STAGES, STAGE_STRIDES):
        pattern = re.compile(re.escape(stage) + r"\.([0-9]{1,9})\.")
        indices = {int(m.group(1)) for m in map(pattern.match, shapes) if m}
        if not indices:
            raise ArchitectureError(f"{stage}: no blocks (not a ResNet-SPD state_dict?)")
        # Blocks are numbered 0..n-1: a gap is refused here, before shapes are listed for
        # every block up to the largest index (which a crafted name could make a billion).
        gap = next(i for i in range(len(indices) + 1) if i not in indices)
        if gap < max(indices):
            raise ArchitectureError(f"{stage}.{gap}: missing, while {stage}.{max(indices)} "
                                    "is present")
        stage_blocks.append(max(indices) + 1)
        width = _shape(shapes, f"{stage}.0.residual_function.0.weight")[0]
        stage_widths.append(width)
        for i in sorted(indices):
            if _has_spd_layout(shapes, block, f"{stage}.{i}."):
                spd_seen.append((stage, i, stride if i == 0 else 1))

    spd = bool(spd_seen)
    for stage, i, block_stride in spd_seen:
        if block_stride != 2:
            raise ArchitectureError(
                f"{stage}.{i}.residual_function: has the space_to_depth layout but is a stride-1 "
                f"block (stage strides {list(STAGE_STRIDES)}: only the first block of stages 2-4 "
                "downsamples)")
    if spd:
        for stage, stride in zip(STAGES, STAGE_STRIDES):
            if stride == 2 and (stage, 0, 2) not in spd_seen:
                raise ArchitectureError(
                    f"{stage}.0.residual_function: stride-2 block without the space_to_depth "
                    "layout, while other blocks have it")
    fc = _shape(shapes, "fc.weight")
    if len(fc) != 2:
        raise ArchitectureError(f"fc.weight: shape {list(fc)}, expected [classes, channels]")
    arch = OrderedDict([
        ("block", block), ("expansion", _EXPANSION[block]), ("stem_channels", stem[0]),
        ("stage_blocks", stage_blocks), ("stage_widths", stage_widths),
        ("stage_strides", list(STAGE_STRIDES)), ("spd", spd),
        ("num_classes", fc[0]),
    ])

    expected = expected_resnet_spd_shapes(arch)
    for name, shape in shapes.items():
        if name not in expected:
            raise ArchitectureError(f"{name}: unexpected tensor for a {block} ResNet-SPD "
                                    f"{stage_blocks} (shape {list(shape)})")
        if shape != expected[name]:
            raise ArchitectureError(
                f"{name}: shape {list(shape)}, expected {list(expected[name])}")
    for name in expected:
        if name not in shapes:
            raise ArchitectureError(f"{name}: missing for a {block} ResNet-SPD {stage_blocks}")
    return arch
