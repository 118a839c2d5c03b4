"""Building blocks shared by the reference models (YOLOv5 v6/v7, the SPD-Conv fork, ResNet-SPD).

What it is: the project's own PyTorch definitions of Conv, space_to_depth, Focus, Bottleneck, C3,
SPP, SPPF, Concat and Detect, written so that their attribute names (hence state_dict keys) and
numerics equal the upstream YOLOv5 / SPD-Conv code. That is what lets `load_state_dict` take a
converted checkpoint as it is.
What it is not: a training library. There is no fusing, no AutoShape, no anchor evolution, and
BatchNorm momentum/eps are left at PyTorch defaults here; the YOLO builder sets YOLOv5's values,
as upstream `initialize_weights` does (ResNet-SPD upstream never does, so it keeps 1e-5).
"""

import math

import torch
import torch.nn as nn


def autopad(k, p=None):
    """'same' padding for odd kernels, as upstream: k // 2 unless given explicitly."""
    if p is None:
        p = k // 2 if isinstance(k, int) else [x // 2 for x in k]
    return p


def make_divisible(x, divisor=8):
    """Channel counts are rounded up to a multiple of 8 after the width multiplier."""
    return math.ceil(x / divisor) * divisor


def space_to_depth_tensor(x):
    """(N, C, H, W) -> (N, 4C, H/2, W/2); channel blocks in the order the reference uses:
    (even row, even col), (odd row, even col), (even row, odd col), (odd row, odd col)."""
    return torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1)


class space_to_depth(nn.Module):  # noqa: N801 - the name is the one YOLO yamls and pickles use
    """The SPD layer: a parameter-free 2x downsampling into channels."""

    def __init__(self, dimension=1):
        super().__init__()
        self.d = dimension  # kept for parity with the reference; only channel concat is used

    def forward(self, x):
        return space_to_depth_tensor(x)


class Conv(nn.Module):
    """Conv2d (no bias) + BatchNorm2d + SiLU (or identity when act is False)."""

    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p), groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU() if act is True else (act if isinstance(act, nn.Module) else nn.Identity())

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Focus(nn.Module):
    """space_to_depth followed by a Conv on 4*c1 channels (the SPD stem of both families)."""

    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = Conv(c1 * 4, c2, k, s, p, g, act)

    def forward(self, x):
        return self.conv(space_to_depth_tensor(x))


class Bottleneck(nn.Module):
    """YOLOv5's bottleneck: 1x1 Conv, 3x3 Conv, residual add when shapes allow and asked for."""

    def __init__(self, c1, c2, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP bottleneck with three convs: cv3(cat(m(cv1(x)), cv2(x)))."""

    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, g, e=1.0) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPP(nn.Module):
    """Spatial pyramid pooling with parallel max-pools (YOLOv5 v5 and earlier heads)."""

    def __init__(self, c1, c2, k=(5, 9, 13)):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * (len(k) + 1), c2, 1, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(kernel_size=x, stride=1, padding=x // 2) for x in k)

    def forward(self, x):
        x = self.cv1(x)
        return self.cv2(torch.cat([x] + [m(x) for m in self.m], 1))


class SPPF(nn.Module):
    """SPP-Fast: one k x k max-pool applied three times in series (equals SPP(5, 9, 13) for k=5)."""

    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))


class Concat(nn.Module):
    """Concatenate a list of tensors along a dimension (channels in every yaml)."""

    def __init__(self, dimension=1):
        super().__init__()
        self.d = dimension

    def forward(self, x):
        return torch.cat(x, self.d)


class Detect(nn.Module):
    """YOLOv5 v6+ detection head.

    Per level a 1x1 conv (with bias) to na*(nc+5), viewed as (bs, na, ny, nx, no). In eval mode the
    sigmoid outputs are decoded to pixels: xy = (2*s - 0.5 + grid) * stride, wh = (2*s)^2 * anchor
    * stride, with grid[..., 0] the column (x) index. `anchors` is a buffer in grid units
    (pixels / stride), as in the checkpoints; `stride` is a plain attribute, not state.
    Returns (decoded (bs, sum(na*ny*nx), no), [raw per level]) in eval, the raw list in training.
    """

    def __init__(self, nc=80, anchors=(), ch=()):
        super().__init__()
        self.nc = nc
        self.no = nc + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.register_buffer('anchors', torch.tensor(anchors).float().view(self.nl, -1, 2))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
        self.stride = None  # set by the model builder, once the feature sizes are known

    def forward(self, xs):
        z, raw = [], []
        for i, x in enumerate(xs):
            x = self.m[i](x)
            bs, _, ny, nx = x.shape
            x = x.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            raw.append(x)
            if not self.training:
                z.append(self._decode(x, i).view(bs, -1, self.no))
        return raw if self.training else (torch.cat(z, 1), raw)

    def _decode(self, x, i):
        _, _, ny, nx, _ = x.shape
        yv, xv = torch.meshgrid(torch.arange(ny, device=x.device), torch.arange(nx, device=x.device),
                                indexing='ij')
        grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2).to(x.dtype)
        stride = float(self.stride[i])
        anchor_grid = (self.anchors[i] * stride).view(1, self.na, 1, 1, 2).to(x.dtype)
        y = x.sigmoid()
        xy = (y[..., 0:2] * 2 - 0.5 + grid) * stride
        wh = (y[..., 2:4] * 2) ** 2 * anchor_grid
        return torch.cat((xy, wh, y[..., 4:]), -1)
