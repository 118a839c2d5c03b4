"""ResNet-SPD (the SPD-Conv paper's classifiers) built from an architecture dict.

What it is: BasicBlock / BottleNeck residual networks whose stride-2 blocks downsample with
space_to_depth after a stride-1 3x3 conv, with a Focus stem, and whose state_dict names equal the
reference code's (`conv1.conv.conv.weight`, `conv3_x.0.residual_function.5.weight`, ...).
Note the reference "resnet18_spd" is really BottleNeck [3, 4, 6, 3]; `resnet_spd(block='basic',
layers=[2, 2, 2, 2])` is a true ResNet18-SPD. With `spd: false` the stride-2 blocks use strided
convs instead (plain ResNet blocks) but the stem stays Focus.
What it is not: torchvision's ResNet (different names, a 7x7 stem and max-pool).
"""

import torch.nn as nn

from .common import Focus, space_to_depth

# The reference builds its BatchNorms with PyTorch's defaults (eps 1e-5); nothing resets them.


def _third_stage(in_ch, out_ch, kernel, stride, spd):
    """conv -> [SPD] -> BN -> ReLU where a block downsamples; returns layers and channels out."""
    if stride == 2 and spd:
        return [nn.Conv2d(in_ch, out_ch, kernel, 1, kernel // 2, bias=False), space_to_depth(),
                nn.BatchNorm2d(4 * out_ch), nn.ReLU()], 4 * out_ch
    return [nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(out_ch), nn.ReLU()], out_ch


class ResidualBlock(nn.Module):
    """ReLU(residual_function(x) + shortcut(x)); the shortcut is a 1x1 conv + BN when shapes change."""

    def __init__(self, layers, in_ch, out_ch, stride):
        super().__init__()
        self.residual_function = nn.Sequential(*layers)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))
        self.relu = nn.ReLU()  # no parameters, so state_dict names are unaffected

    def forward(self, x):
        return self.relu(self.residual_function(x) + self.shortcut(x))


class BasicBlock(ResidualBlock):
    """3x3 conv, [SPD], BN, ReLU, 3x3 conv, BN (+ shortcut)."""

    expansion = 1

    def __init__(self, in_ch, width, stride=1, spd=True):
        layers, mid = _third_stage(in_ch, width, 3, stride, spd)
        layers += [nn.Conv2d(mid, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)]
        super().__init__(layers, in_ch, width * self.expansion, stride)


class BottleNeck(ResidualBlock):
    """1x1 conv, BN, ReLU, 3x3 conv, [SPD], BN, ReLU, 1x1 conv to 4*width, BN (+ shortcut)."""

    expansion = 4

    def __init__(self, in_ch, width, stride=1, spd=True):
        layers = [nn.Conv2d(in_ch, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        third, mid = _third_stage(width, width, 3, stride, spd)
        layers += third
        layers += [nn.Conv2d(mid, width * self.expansion, 1, bias=False), nn.BatchNorm2d(width * self.expansion)]
        super().__init__(layers, in_ch, width * self.expansion, stride)


BLOCKS = {'basic': BasicBlock, 'bottleneck': BottleNeck}
ARCH_KEYS = ('block', 'expansion', 'stem_channels', 'stage_blocks', 'stage_widths', 'stage_strides', 'spd',
             'num_classes')


class ResNetSPD(nn.Module):
    """conv1 (Focus stem), conv2_x ... conv{k+1}_x stages, avg_pool, fc."""

    def __init__(self, arch):
        super().__init__()
        missing = [k for k in ARCH_KEYS if k not in arch]
        if missing:
            raise ValueError(f'resnet_spd architecture: missing keys {missing}; expected {list(ARCH_KEYS)}')
        if arch['block'] not in BLOCKS:
            raise ValueError(f"resnet_spd architecture: block {arch['block']!r}, expected one of {sorted(BLOCKS)}")
        block = BLOCKS[arch['block']]
        if arch['expansion'] != block.expansion:
            raise ValueError(f"resnet_spd architecture: expansion {arch['expansion']} does not match "
                             f"block {arch['block']!r} (expansion {block.expansion})")
        stages = list(zip(arch['stage_blocks'], arch['stage_widths'], arch['stage_strides']))
        if len({len(arch[k]) for k in ('stage_blocks', 'stage_widths', 'stage_strides')}) != 1:
            raise ValueError('resnet_spd architecture: stage_blocks, stage_widths and stage_strides '
                             'must have the same length')
        self.arch = dict(arch)
        self.conv1 = Focus(3, arch['stem_channels'], k=1, s=1)
        in_ch = arch['stem_channels']
        self.stage_names = []
        for idx, (n, width, stride) in enumerate(stages):
            if stride not in (1, 2):
                raise ValueError(f'resnet_spd architecture: stage {idx} stride {stride}, expected 1 or 2')
            blocks = []
            for s in [stride] + [1] * (n - 1):
                blocks.append(block(in_ch, width, s, arch['spd']))
                in_ch = width * block.expansion
            name = f'conv{idx + 2}_x'  # the reference numbers stages from conv2_x
            setattr(self, name, nn.Sequential(*blocks))
            self.stage_names.append(name)
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_ch, arch['num_classes'])

    def forward(self, x):
        x = self.conv1(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.fc(self.avg_pool(x).flatten(1))


def build_resnet_spd(arch):
    """Eval-mode ResNet-SPD for an `architecture` dict (see docs/design.md)."""
    return ResNetSPD(arch).eval()


def resnet_spd_architecture(block='bottleneck', layers=(3, 4, 6, 3), num_classes=200, base_width=64, spd=True):
    """The architecture dict of the reference layout with stage widths base_width * (1, 2, 4, 8...)."""
    return {
        'block': block,
        'expansion': BLOCKS[block].expansion,
        'stem_channels': base_width,
        'stage_blocks': list(layers),
        'stage_widths': [base_width * 2 ** i for i in range(len(layers))],
        'stage_strides': [1] + [2] * (len(layers) - 1),
        'spd': spd,
        'num_classes': num_classes,
    }


def resnet_spd(block='bottleneck', layers=(3, 4, 6, 3), num_classes=200, base_width=64, spd=True):
    """Defaults give the reference "resnet18_spd" (Tiny ImageNet); num_classes=100 the CIFAR resnet50_spd."""
    return build_resnet_spd(resnet_spd_architecture(block, layers, num_classes, base_width, spd))
