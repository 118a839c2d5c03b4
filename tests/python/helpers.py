"""Shared helpers for the Python tests (run from the repo root with /usr/bin/python3).

What it is: where the repo and `../shared` are, a skip decorator for tests that need shared/,
a runner for the converter CLI, a compact ResNet-SPD definition in PyTorch (the reference
state_dict layout, written independently of weights_tools/ so it cross-checks the converter),
and stand-in `models.yolo` / `models.common` classes so torch can pickle and unpickle
YOLOv5-style checkpoints without the YOLOv5 code.

What it is not: a test itself, nor anything the tools import. torch is imported only inside
the functions that need it.
"""

import functools
import json
import os
import subprocess
import sys
import types
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_dir():
    """`<repo>/../shared` as a Path, or None when it is absent (a user's fresh machine)."""
    path = REPO.parent / "shared"
    return path if path.is_dir() else None


def skip_without_shared(test):
    """Skip a test (function or class) when ../shared is absent, saying so."""
    return unittest.skipIf(
        shared_dir() is None,
        f"needs the shared test data at {REPO.parent / 'shared'} (absent on this machine)")(test)


def shared_file(relative):
    """A file under ../shared; skips the calling test when it is missing."""
    base = shared_dir()
    path = base / relative if base else None
    if path is None or not path.exists():
        raise unittest.SkipTest(f"needs {REPO.parent / 'shared' / relative} (absent)")
    return path


def read_keys_listing(path):
    """A shared/reference/*.keys.txt listing: dict name -> shape tuple (comments and the
    trailing YAML line skipped)."""
    shapes = {}
    for line in Path(path).read_text().splitlines():
        if not line or line.startswith(("#", "{")):
            continue
        name, shape = line.split(" ", 1)
        shapes[name] = tuple(json.loads(shape))
    return shapes


def run_convert(*args):
    """Run `python -m weights_tools.convert ARGS` from the repo root; CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "weights_tools.convert", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def torch_tensors_to_numpy(state_dict):
    return {k: v.detach().cpu().numpy() for k, v in state_dict.items()}


# ---- ResNet-SPD, compact -------------------------------------------------------------------

def make_resnet_spd(block="bottleneck", stage_blocks=(3, 4, 6, 3), num_classes=200, width=64,
                    spd=True):
    """A ResNet-SPD in the reference layout (module names give the reference state_dict keys):
    Focus stem `conv1`, stages conv2_x..conv5_x with strides 1,2,2,2, `fc`. BatchNorm statistics
    are randomised so that converted values are distinguishable."""
    import torch
    import torch.nn as nn

    class SpaceToDepth(nn.Module):
        def forward(self, x):
            return torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2],
                              x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1)

    class ConvBnSiLU(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 1, bias=False)
            self.bn = nn.BatchNorm2d(cout)
            self.act = nn.SiLU()

    class Focus(nn.Module):
        def __init__(self, cout):
            super().__init__()
            self.conv = ConvBnSiLU(12, cout)

    class Block(nn.Module):
        def __init__(self, cin, w, stride):
            super().__init__()
            expansion = 4 if block == "bottleneck" else 1
            down = stride == 2
            k = 1 if block == "bottleneck" else 3
            layers = [nn.Conv2d(cin, w, k, padding=k // 2, bias=False)]
            if block == "bottleneck":
                layers += [nn.BatchNorm2d(w), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1, bias=False)]
            if down and spd:
                layers += [SpaceToDepth(), nn.BatchNorm2d(4 * w), nn.ReLU()]
                mid = 4 * w
            else:
                layers += [nn.BatchNorm2d(w), nn.ReLU()]
                mid = w
            last_k = 1 if block == "bottleneck" else 3
            layers += [nn.Conv2d(mid, w * expansion, last_k, padding=last_k // 2, bias=False),
                       nn.BatchNorm2d(w * expansion)]
            self.residual_function = nn.Sequential(*layers)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != w * expansion:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(cin, w * expansion, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(w * expansion))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = Focus(width)
            cin = width
            expansion = 4 if block == "bottleneck" else 1
            for s, (n, stride) in enumerate(zip(stage_blocks, (1, 2, 2, 2))):
                w = width * 2 ** s
                blocks = []
                for i in range(n):
                    blocks.append(Block(cin, w, stride if i == 0 else 1))
                    cin = w * expansion
                setattr(self, f"conv{s + 2}_x", nn.Sequential(*blocks))
            self.avg_pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, num_classes)

    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    return net


# ---- YOLOv5-style pickles without the YOLOv5 code -----------------------------------------------

YOLO_CLASSES = {
    "models.yolo": ("Model", "Detect"),
    "models.common": ("Conv", "C3", "Bottleneck", "SPPF", "Concat", "Focus", "space_to_depth"),
}


def install_fake_yolov5_modules():
    """Put `models.yolo` / `models.common` in sys.modules with bare nn.Module subclasses of the
    names the reference pickles use, so torch.save / torch.load can handle such checkpoints in
    tests. Returns a namespace of the classes. Idempotent."""
    import torch.nn as nn
    if "models.yolo" in sys.modules and hasattr(sys.modules["models.yolo"], "Model"):
        return types.SimpleNamespace(**{n: getattr(sys.modules[m], n)
                                        for m, names in YOLO_CLASSES.items() for n in names})
    package = types.ModuleType("models")
    package.__path__ = []
    sys.modules["models"] = package
    found = {}
    for module_name, names in YOLO_CLASSES.items():
        module = types.ModuleType(module_name)
        for name in names:
            cls = type(name, (nn.Module,), {"__module__": module_name})
            setattr(module, name, cls)
            found[name] = cls
        sys.modules[module_name] = module
        setattr(package, module_name.split(".")[1], module)
    return types.SimpleNamespace(**found)


TINY_YOLO_YAML = {
    "nc": 2, "depth_multiple": 0.33, "width_multiple": 0.25,
    "anchors": [[10, 13, 16, 30, 33, 23]],
    "backbone": [[-1, 1, "Conv", [64, 3, 2]], [-1, 1, "Conv", [128, 3, 2]],
                 [-1, 1, "Conv", [256, 3, 2]]],
    "head": [[[2], 1, "Detect", ["nc", "anchors"]]],
    "ch": 3,
}


def make_tiny_yolov5_model(seed):
    """A 3-conv + Detect model pickled as models.yolo.Model, matching TINY_YOLO_YAML (stride 8,
    2 classes, one level of 3 anchors), in fp16 like a YOLOv5 checkpoint's."""
    import copy
    import torch
    import torch.nn as nn
    c = install_fake_yolov5_modules()
    torch.manual_seed(seed)
    layers = []
    for cin, cout in ((3, 16), (16, 32), (32, 64)):
        conv = c.Conv()
        conv.conv = nn.Conv2d(cin, cout, 3, 2, 1, bias=False)
        conv.bn = nn.BatchNorm2d(cout)
        conv.act = nn.SiLU()
        with torch.no_grad():
            conv.bn.running_mean.uniform_(-1, 1)
        layers.append(conv)
    detect = c.Detect()
    detect.nc, detect.no, detect.nl, detect.na = 2, 7, 1, 3
    detect.m = nn.ModuleList([nn.Conv2d(64, 21, 1)])
    detect.register_buffer("anchors", torch.tensor([[10., 13, 16, 30, 33, 23]]).view(1, 3, 2) / 8)
    detect.stride = torch.tensor([8.])
    detect.grid = [torch.empty(0)]
    detect.anchor_grid = [torch.empty(0)]
    model = c.Model()
    model.model = nn.Sequential(*layers, detect)
    model.yaml = copy.deepcopy(TINY_YOLO_YAML)
    model.names = {0: "cat", 1: "dog"}
    model.stride = detect.stride
    return model.half()
