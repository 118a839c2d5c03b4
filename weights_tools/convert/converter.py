"""Convert a PyTorch checkpoint into an spdinfer model file (safetensors + metadata).

Usage:
  /usr/bin/python3 -m weights_tools.convert IN.pt -o OUT.safetensors [--yaml ARCH.yaml]
      [--names names.txt] [--preset tinyimagenet|cifar|yolov5] [--input-size N|HxW]
      [--max-checkpoint-bytes SIZE]

What it is: the CLI and the decisions a conversion needs: which kind of checkpoint this is
(a ResNet-SPD state_dict; a YOLOv5-family training checkpoint {'model', 'ema', ...}, taking
`ema` when present; a YOLOv5 state_dict plus --yaml), the YOLOv5 architecture (the model's
YAML dict + Detect strides), the preprocessing preset and the class names, and the metadata of
docs/design.md. Errors print one line, `convert: error: FILE: what is wrong`, and exit 2; so
does an exception nothing foresaw (`main`'s last resort). Arguments are checked against the
engine's limits before anything is read, and the model's input size against its strides before
anything is written.

What it is not: the safe unpickling (checkpoint.py) and its bounds (read_budget.py), ResNet-SPD
shape inference (resnet_arch.py) or the container format (safetensors_io.py), all beside it in
weights_tools/convert/.
It never imports torch and never runs checkpoint code.
"""

import argparse
import hashlib
import json
import math
import os
import sys
from collections import OrderedDict
from fractions import Fraction

import numpy as np

from weights_tools.convert.checkpoint import (CheckpointError, StandIn, is_module, module_state_dict,
                                              open_regular, read_checkpoint)
from weights_tools.convert.read_budget import (DEFAULT_MAX_CHECKPOINT_BYTES, MAX_INFLATE_RATIO,
                                               format_bytes, tensor_bytes_bound)
from weights_tools.convert.resnet_arch import ArchitectureError, infer_resnet_spd
from weights_tools.convert.safetensors_io import SafetensorsError, write_safetensors

FORMAT_VERSION = "1"

# Preprocessing per dataset (docs/design.md, `preprocess`): scale multiplies 0-255 pixels,
# then (x - mean) / std. The Tiny-ImageNet statistics are on the 0-255 scale.
PRESETS = {
    "tinyimagenet": OrderedDict([
        ("input_size", [64, 64]), ("scale", 1.0),
        ("mean", [122.4786, 114.2755, 101.3963]), ("std", [70.4924, 68.5679, 71.8127]),
        ("color", "rgb"), ("resize", "resize_crop")]),
    "cifar": OrderedDict([
        ("input_size", [32, 32]), ("scale", 1.0 / 255.0),
        ("mean", [0.5071, 0.4865, 0.4409]), ("std", [0.2673, 0.2564, 0.2762]),
        ("color", "rgb"), ("resize", "resize")]),
    "yolov5": OrderedDict([
        ("input_size", [640, 640]), ("scale", 1.0 / 255.0),
        ("mean", [0.0, 0.0, 0.0]), ("std", [1.0, 1.0, 1.0]),
        ("color", "rgb"), ("resize", "letterbox")]),
}
_FAMILY_PRESETS = {"resnet_spd": ("tinyimagenet", "cifar"), "yolov5": ("yolov5",)}
# ResNet-SPD class count -> dataset, when --preset is not given.
_RESNET_PRESET_BY_CLASSES = {200: "tinyimagenet", 100: "cifar", 10: "cifar"}


class YamlError(ArchitectureError):
    """The model YAML (a --yaml file, or the dict a checkpoint holds) is not one we can use."""


class ConvertError(Exception):
    """A conversion failure attributable to one file; str() is the CLI's message."""

    def __init__(self, path, message):
        super().__init__(f"{path}: {message}")
        self.path = path


# ---- small inputs ----------------------------------------------------------------------------

# The engine's bounds on a model's input size: a side at most 16384 (models/model.cpp, the
# `preprocess` parser) and at most kMaxImagePixels pixels (image/image.h), so a model written
# here is one spdinfer loads and can feed.
MAX_INPUT_SIDE = 16384
MAX_INPUT_PIXELS = 100_000_000


def parse_input_size(text):
    """'640' -> [640, 640]; '256x320' or '256,320' -> [256, 320] (height, width), within the
    engine's bounds."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts if len(p) <= 12]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or len(parts) > 2 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected N or HxW, got {text[:40]!r}")
    if max(values) > MAX_INPUT_SIDE or values[0] * values[1] > MAX_INPUT_PIXELS:
        raise argparse.ArgumentTypeError(
            f"{values[0]}x{values[1]} is larger than spdinfer takes (each side at most "
            f"{MAX_INPUT_SIDE}, at most {MAX_INPUT_PIXELS:,} pixels)")
    return values


def input_multiple(family, arch):
    """What both sides of the input must be a multiple of: a YOLOv5's largest Detect stride
    (spdinfer rounds an image size up to it), a ResNet-SPD's space_to_depth layers (the stem's
    and one per stride-2 stage when "spd"; each needs an even height and width)."""
    if family == "yolov5":
        return max(arch["stride"])
    halvings = 1 + (sum(1 for s in arch["stage_strides"] if s == 2) if arch["spd"] else 0)
    return 2 ** halvings


def input_size_problem(family, arch, size):
    """Why the model cannot take `size` ([height, width]), or None."""
    multiple = input_multiple(family, arch)
    if size[0] % multiple or size[1] % multiple:
        fit = "x".join(str(max(multiple, round(v / multiple) * multiple)) for v in size)
        return (f"--input-size {size[0]}x{size[1]} is not a multiple of {multiple}, which this "
                f"{family} model needs (nearest: {fit})")
    return None


# Sizes of the small text files the converter reads whole: a model YAML is a few KiB, a names
# file about 10 KiB per thousand classes. PyYAML parses about 30-100 KiB a second.
MAX_YAML_FILE_BYTES = 256 << 10
MAX_NAMES_FILE_BYTES = 4 << 20


def read_small_text(path, max_bytes, what):
    """The whole of text file `path`, refused (ConvertError) when larger than `max_bytes`, not
    a regular file, unreadable or not UTF-8."""
    try:
        with open_regular(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise ConvertError(path, f"{what} file of {format_bytes(size)}, more than the "
                                         f"{format_bytes(max_bytes)} one may have")
            return f.read(max_bytes + 1)[:max_bytes].decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConvertError(path, f"cannot read {what}: {e}") from None


def read_names(path):
    """Class names from a text file, one per line (blank lines ignored)."""
    text = read_small_text(path, MAX_NAMES_FILE_BYTES, "names")
    return [line.strip() for line in text.splitlines() if line.strip()]


def load_yaml(path):
    """A YOLOv5 model YAML as a dict (PyYAML's safe loader: plain data only)."""
    try:
        import yaml  # Debian's python3-yaml; only needed for --yaml
    except ImportError:
        raise ConvertError(path, "--yaml needs PyYAML (apt-get install python3-yaml)") from None
    text = read_small_text(path, MAX_YAML_FILE_BYTES, "YAML")
    try:  # the pure-Python loader: libyaml's (CSafeLoader) overflows the C stack on deep nesting
        cfg = yaml.safe_load(text)
    except RecursionError:
        raise ConvertError(path, "YAML nests too deeply to be a model YAML") from None
    except yaml.YAMLError as e:
        raise ConvertError(path, f"cannot read YAML: {str(e).splitlines()[0]}") from None
    except (ValueError, TypeError, OverflowError) as e:  # a value PyYAML cannot build (a date)
        raise ConvertError(path, f"cannot read YAML: {type(e).__name__}: {e}") from None
    try:
        _plain_json(cfg, "yaml")
    except ArchitectureError as e:
        raise ConvertError(path, str(e)) from None
    problem = yaml_layout_problem(cfg)
    if problem:
        raise ConvertError(path, problem)
    return cfg


def yaml_layout_problem(cfg):
    """What keeps `cfg` from being a YOLOv5 model YAML (None when it is one)."""
    if not isinstance(cfg, dict):
        return "YAML is not a mapping"
    for key in ("nc", "anchors", "backbone", "head"):
        if key not in cfg:
            return f"YAML has no {key!r}"
    if (not isinstance(cfg["nc"], int) or isinstance(cfg["nc"], bool) or cfg["nc"] < 1
            or not isinstance(cfg["anchors"], (list, int))):
        return "YAML nc must be a positive integer and anchors a list"
    for part in ("backbone", "head"):
        if not isinstance(cfg[part], list):
            return f"YAML {part} is not a list"
        for i, layer in enumerate(cfg[part]):
            if not (isinstance(layer, list) and len(layer) == 4 and isinstance(layer[1], int)
                    and isinstance(layer[2], str) and isinstance(layer[3], list)
                    and isinstance(layer[0], (int, list))):
                return f"YAML {part}[{i}] is not [from, number, module, args]"
    return None


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Bounds on a model YAML (a --yaml file or the dict a checkpoint pickles): a real one has a few
# hundred values nested 4 deep.
MAX_YAML_VALUES = 100_000
MAX_YAML_DEPTH = 32


def _plain_json(value, where):
    """Check `value` is a tree of JSON types only (the YAML dict can hold anything a pickle made),
    without walking it recursively: no non-empty list or dict may appear twice (YAML aliases or
    pickle memo references make a "billion laughs" DAG that a tree walk takes forever over),
    and depth and size are bounded."""
    seen = set()
    stack = [(value, where, 0)]
    count = 0
    while stack:
        value, where, depth = stack.pop()
        count += 1
        if count > MAX_YAML_VALUES:
            raise YamlError(f"{where}: more than {MAX_YAML_VALUES} values in the YAML")
        if isinstance(value, (dict, list, tuple)):
            if depth >= MAX_YAML_DEPTH:
                raise YamlError(f"{where}: YAML nested more than {MAX_YAML_DEPTH} deep")
            if value and id(value) in seen:
                raise YamlError(f"{where}: shared or recursive reference (YAML alias or "
                                "pickle memo); a model YAML is a plain tree")
            seen.add(id(value))
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise YamlError(f"{where}: non-string key {str(k)[:40]!r}")
                # Paths in messages stay short whatever the keys (a pickle's may be megabytes).
                stack.append((v, f"{where}.{k}"[:200], depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise YamlError(f"{where}: {value} is not a finite number (JSON has none)")
        elif not (value is None or isinstance(value, (str, bool, int, float))):
            raise YamlError(f"{where}: {type(value).__name__} is not plain data")


# ---- YOLOv5 ----------------------------------------------------------------------------------

# Modules whose YAML `n` sets their inner depth (one module), versus those YOLOv5 repeats n times.
_CSP_MODULES = {"C3", "C3x", "C3TR", "C3SPP", "C3Ghost", "BottleneckCSP"}
_STRIDE_ONE = _CSP_MODULES | {"Bottleneck", "SPP", "SPPF", "Concat", "nn.Identity"}
_STRIDE_ARG2 = {"Conv", "DWConv", "GhostConv", "MixConv2d", "CrossConv", "GhostBottleneck"}


# A stride or scale in a YAML layer's arguments: real ones are 1 or 2; bounding them keeps the
# stride arithmetic on small exact fractions (a string such as "1e100000000" would not be).
MAX_LAYER_STRIDE = 1024


def _stride_number(value):
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0 < value <= MAX_LAYER_STRIDE):
        raise ValueError(f"{str(value)[:20]!r} is not a positive stride of at most "
                         f"{MAX_LAYER_STRIDE}")
    return Fraction(value)


def _layer_factor(module, args):
    """How much one instance of `module` (YAML name) divides the resolution (may be < 1)."""
    if module in _STRIDE_ONE:
        return Fraction(1)
    if module in _STRIDE_ARG2:
        return _stride_number(args[2] if len(args) > 2 else 1)
    if module == "Focus":
        return 2 * _stride_number(args[2] if len(args) > 2 else 1)
    if module == "space_to_depth":
        return Fraction(2)
    if module == "Contract":
        return _stride_number(args[0] if args else 2)
    if module == "Expand":
        return 1 / _stride_number(args[0] if args else 2)
    if module == "nn.Upsample":
        return 1 / _stride_number(args[1])
    if module == "nn.MaxPool2d":
        return _stride_number(args[1] if len(args) > 1 and args[1] is not None else args[0])
    return None


# A YAML layer's repeat count `n` (times depth_multiple): real ones are at most 9; bounding it
# keeps `factor ** repeats` a small number.
MAX_LAYER_REPEATS = 1000


def yolov5_strides_from_yaml(cfg):
    """Detect strides [8, 16, 32] computed from a YOLOv5 YAML's layers, as its forward pass
    would find them. Used when no Detect module (a plain state_dict) gives them. Every problem
    is a YamlError naming the layer."""
    layers = list(cfg["backbone"]) + list(cfg["head"])
    gd = cfg.get("depth_multiple", 1.0)
    if isinstance(gd, bool) or not isinstance(gd, (int, float)) or not 0 < gd <= 100:
        raise YamlError(f"depth_multiple {gd!r} is not a positive number")
    strides = []
    for i, (frm, n, module, args) in enumerate(layers):
        try:
            stride = _layer_stride(i, frm, n, module, args, gd, strides, last=len(layers) - 1)
        except YamlError:
            raise
        except (TypeError, ValueError, IndexError, ZeroDivisionError, OverflowError) as e:
            raise YamlError(f"layer {i} ({module}): from {str(frm)[:40]}, arguments "
                            f"{str(args)[:60]} give no stride ({type(e).__name__}: {e})") from None
        if module == "Detect":
            return stride
        strides.append(stride)
    raise YamlError("the YAML has no Detect layer")


def _layer_stride(i, frm, n, module, args, gd, strides, last):
    """The stride at layer i's output (Detect: the list of its inputs' strides)."""
    sources = [frm] if isinstance(frm, int) else list(frm)
    ins = [Fraction(1) if (i == 0 and s == -1) else strides[s if s >= 0 else i + s]
           for s in sources]
    if not ins:
        raise YamlError(f"layer {i}: no inputs")
    if module == "Detect":
        if i != last:
            raise YamlError(f"layer {i}: Detect is not the last layer")
        if any(s != int(s) for s in ins):
            raise YamlError(f"Detect inputs have fractional strides {[str(s) for s in ins]}")
        return [int(s) for s in ins]
    if len(set(ins)) != 1:
        raise YamlError(f"layer {i}: {module} joins inputs of strides {[str(s) for s in ins]}")
    factor = _layer_factor(module, list(args))
    if factor is None:
        raise YamlError(f"layer {i}: module {module!r} has no known stride; "
                        "convert the training checkpoint (it records the strides)")
    repeats = 1 if module in _CSP_MODULES else (max(round(n * gd), 1) if n > 1 else n)
    if not 1 <= repeats <= MAX_LAYER_REPEATS:
        raise YamlError(f"layer {i}: repeat count {n} is not between 1 and {MAX_LAYER_REPEATS}")
    return ins[0] * factor ** repeats


def _detect_module(model):
    """The Detect stand-in: the last element of the Sequential `model` inside Model."""
    seq = model.__dict__.get("_modules", {}).get("model")
    if not is_module(seq) or not seq.__dict__["_modules"]:
        raise ArchitectureError("model has no `model` Sequential of layers")
    detect = list(seq.__dict__["_modules"].values())[-1]
    if not is_module(detect) or "stride" not in detect.__dict__:
        raise ArchitectureError(f"last layer {detect!r} is not a Detect module with strides")
    return detect


def _detect_strides(detect):
    stride = detect.__dict__["stride"]
    try:
        values = np.asarray(stride, dtype=np.float64).reshape(-1) if stride is not None else []
    except (TypeError, ValueError):
        values = []
    if (len(values) == 0 or len(values) > 16
            or not all(np.isfinite(v) and 0 < v <= MAX_INPUT_SIDE and v == round(v)
                       for v in values)):
        raise ArchitectureError(f"Detect stride {str(stride)[:80]} is not a list of positive "
                                "integers")
    return [int(round(v)) for v in values]


def check_yolov5_tensors(cfg, shapes):
    """Check the state_dict against the YAML: every tensor belongs to a layer `model.<i>.`, and
    the Detect layer has nl anchor sets of na anchors and nl output convs of na*(nc+5) channels.
    (The layers in between are not rebuilt here; the engine checks them when it builds.)"""
    layers = list(cfg["backbone"]) + list(cfg["head"])
    d = len(layers) - 1
    nc = cfg["nc"]
    anchors = cfg["anchors"]
    try:
        nl = len(anchors) if isinstance(anchors, list) else len(layers[d][0])
        na = len(anchors[0]) // 2 if isinstance(anchors, list) else int(anchors)
    except (TypeError, IndexError):
        raise YamlError(f"anchors {str(anchors)[:80]} are not one list per Detect input") from None
    for name in shapes:
        head, _, rest = name.partition(".")
        index = rest.split(".", 1)[0]
        if (head != "model" or not (index.isascii() and index.isdigit() and len(index) <= 9)
                or int(index) > d):
            raise ArchitectureError(f"{name}: not a tensor of layers model.0..model.{d}")
    expected = {f"model.{d}.anchors": (nl, na, 2)}
    for i in range(nl):
        expected[f"model.{d}.m.{i}.bias"] = (na * (nc + 5),)
    for name, shape in expected.items():
        if name not in shapes:
            raise ArchitectureError(f"{name}: missing (Detect with {nl} levels)")
        if tuple(shapes[name]) != shape:
            raise ArchitectureError(f"{name}: shape {list(shapes[name])}, expected {list(shape)} "
                                    f"(nc={nc}, {na} anchors)")
    for i in range(nl):
        name = f"model.{d}.m.{i}.weight"
        shape = tuple(shapes.get(name, ()))
        if len(shape) != 4 or shape[0] != na * (nc + 5) or shape[2:] != (1, 1):
            raise ArchitectureError(f"{name}: shape {list(shape)}, expected "
                                    f"[{na * (nc + 5)}, C, 1, 1] (nc={nc}, {na} anchors)")


def yolov5_architecture(cfg, strides):
    """docs/design.md's yolov5 `architecture`: the YAML dict plus `stride` and `ch`."""
    problem = yaml_layout_problem(cfg)
    if problem:
        raise YamlError(problem)
    arch = OrderedDict(cfg)
    arch.setdefault("ch", 3)
    arch["stride"] = list(strides)
    _plain_json(arch, "yaml")
    return arch


def _names_list(names):
    """Class names as a YOLOv5 checkpoint holds them: a list, or a dict index -> name."""
    if isinstance(names, dict):
        if not all(isinstance(k, int) for k in names):
            return None
        names = [names[k] for k in sorted(names)]
    if isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names):
        return list(names)
    return None


# ---- what the checkpoint is --------------------------------------------------------------------

def _is_state_dict(obj):
    return (isinstance(obj, dict) and obj
            and all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items()))


def _yolov5_model(obj):
    """The module stand-in to convert from a checkpoint object, or None: `ema` when present
    and not None, else `model` (a training checkpoint), or the object itself (torch.save(model))."""
    if is_module(obj):
        return obj
    if isinstance(obj, dict):
        for key in ("ema", "model"):
            if is_module(obj.get(key)):
                return obj[key]
    return None


def _inner_state_dict(obj):
    """A state_dict stored directly, or under 'ema'/'model'/'state_dict' (ema preferred);
    'module.' prefixes from DataParallel are dropped."""
    if isinstance(obj, dict) and not _is_state_dict(obj):
        for key in ("ema", "model", "state_dict"):
            if _is_state_dict(obj.get(key)):
                obj = obj[key]
                break
    if not _is_state_dict(obj):
        return None
    if all(k.startswith("module.") for k in obj):
        obj = OrderedDict((k[len("module."):], v) for k, v in obj.items())
    return obj


def _describe(obj):
    if isinstance(obj, dict):
        keys = ", ".join(repr(k) for k in list(obj)[:8])
        return f"a dict with keys {keys}"
    if isinstance(obj, StandIn):
        return f"a {obj.standin_global} object"
    return f"a {type(obj).__name__}"


def storable_tensors(state_dict):
    """The tensors to write: num_batches_tracked dropped (inference never reads it), float16 and
    float32 kept as they are, float64 narrowed to float32 (the container holds F32/F16 only)."""
    out = OrderedDict()
    for name, array in state_dict.items():
        if name.endswith(".num_batches_tracked"):
            continue
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        if array.dtype not in (np.float16, np.float32):
            raise ArchitectureError(f"{name}: dtype {array.dtype} is not a float tensor")
        out[name] = array
    return out


def describe_checkpoint(obj, yaml_cfg=None):
    """(family, state_dict, architecture, checkpoint class names or None) for a loaded object."""
    model = _yolov5_model(obj)
    if model is not None:
        state_dict = module_state_dict(model)
        cfg = yaml_cfg if yaml_cfg is not None else model.__dict__.get("yaml")
        if not isinstance(cfg, dict):
            raise ArchitectureError(f"{model.standin_global} has no `yaml` dict; pass --yaml")
        _plain_json(cfg, "yaml")
        strides = _detect_strides(_detect_module(model))
        names = _names_list(model.__dict__.get("names"))
        if names is None and isinstance(obj, dict):
            names = _names_list(obj.get("names"))
        family = "yolov5"
    else:
        state_dict = _inner_state_dict(obj)
        if state_dict is None:
            raise ArchitectureError(f"not a state_dict nor a YOLOv5 checkpoint: {_describe(obj)}")
        names = None
        if yaml_cfg is None and isinstance(obj, dict) and isinstance(obj.get("yaml"), dict):
            yaml_cfg = obj["yaml"]  # a state_dict saved with its architecture (weights_tools.convert.transplant)
        if yaml_cfg is not None:
            cfg, family = yaml_cfg, "yolov5"
            _plain_json(cfg, "yaml")
            strides = yolov5_strides_from_yaml(cfg)
            names = _names_list(cfg.get("names"))
            if names is None and isinstance(obj, dict):
                names = _names_list(obj.get("names"))
        elif all(k.startswith("model.") for k in state_dict):
            raise ArchitectureError("looks like a YOLOv5 state_dict: pass its model YAML with "
                                    "--yaml")
        else:
            family = "resnet_spd"
    tensors = storable_tensors(state_dict)
    shapes = OrderedDict((k, v.shape) for k, v in tensors.items())
    if family == "yolov5":
        arch = yolov5_architecture(cfg, strides)
        check_yolov5_tensors(arch, shapes)
        num_classes = arch["nc"]
    else:
        arch = infer_resnet_spd(shapes)
        num_classes = arch["num_classes"]
    if names is not None and len(names) != num_classes:
        names = None  # a stale names list in the checkpoint is worse than none
    return family, tensors, arch, names, num_classes


def choose_preprocess(family, num_classes, preset=None, input_size=None):
    """The `preprocess` dict: --preset, else by family / class count; --input-size overrides."""
    if preset is None:
        preset = ("yolov5" if family == "yolov5"
                  else _RESNET_PRESET_BY_CLASSES.get(num_classes))
        if preset is None:
            raise ArchitectureError(f"no default preprocessing for a {num_classes}-class "
                                    "ResNet-SPD: pass --preset tinyimagenet or cifar")
    elif preset not in _FAMILY_PRESETS[family]:
        raise ArchitectureError(f"--preset {preset} does not fit a {family} model (use one of "
                                f"{', '.join(_FAMILY_PRESETS[family])})")
    result = OrderedDict(PRESETS[preset])
    if input_size is not None:
        result["input_size"] = list(input_size)
    return result


def check_output_size(tensors, storage_bytes):
    """Refuse to write more tensor bytes than the checkpoint's distinct storages hold (within
    read_budget's bound): one storage written out under hundreds of names (pickle memo
    references) would turn a few kilobytes into gigabytes."""
    total = sum(array.nbytes for array in tensors.values())
    if total > tensor_bytes_bound(storage_bytes):
        distinct = len({id(array) for array in tensors.values()})
        raise CheckpointError(
            f"{len(tensors)} tensors ({distinct} distinct) would write {format_bytes(total)} "
            f"from {format_bytes(storage_bytes)} of storage data (one tensor under many names?)")


def convert(in_path, out_path, yaml_path=None, names_path=None, preset=None, input_size=None,
            max_checkpoint_bytes=DEFAULT_MAX_CHECKPOINT_BYTES):
    """Convert `in_path` to `out_path`; returns the metadata written. Raises ConvertError."""
    yaml_cfg = load_yaml(yaml_path) if yaml_path else None
    try:
        checkpoint = read_checkpoint(in_path, max_checkpoint_bytes)
        family, tensors, arch, names, num_classes = describe_checkpoint(checkpoint.obj, yaml_cfg)
        check_output_size(tensors, checkpoint.storage_bytes)
        preprocess = choose_preprocess(family, num_classes, preset, input_size)
        problem = input_size_problem(family, arch, preprocess["input_size"])
        if problem:
            raise ArchitectureError(problem)
    except OSError as e:
        raise ConvertError(in_path, e.strerror or str(e)) from None
    except YamlError as e:  # the --yaml file's fault when there is one, else the checkpoint's
        raise ConvertError(yaml_path or in_path,
                           str(e) if yaml_path else f"the model YAML it holds: {e}") from None
    except (CheckpointError, ArchitectureError) as e:
        raise ConvertError(in_path, str(e)) from None
    if names_path:  # an explicit names file wins over the checkpoint's list
        names = read_names(names_path)
        if len(names) != num_classes:
            raise ConvertError(names_path, f"{len(names)} names for a {num_classes}-class model")
    if names is None:
        names = [f"class{i}" for i in range(num_classes)]
    metadata = OrderedDict([
        ("format", "spdinfer"),
        ("format_version", FORMAT_VERSION),
        ("family", family),
        ("architecture", json.dumps(arch)),
        ("preprocess", json.dumps(preprocess)),
        ("class_names", json.dumps(names, ensure_ascii=False)),
        ("source_sha256", sha256_of(in_path)),
        ("source_name", os.path.basename(in_path)),
    ])
    try:
        write_safetensors(out_path, tensors, metadata)
    except OSError as e:
        raise ConvertError(out_path, e.strerror or str(e)) from None
    except SafetensorsError as e:
        raise ConvertError(in_path, str(e)) from None
    return metadata


def parse_byte_size(text):
    """'4G' -> 4 GiB, '512M', '100k', '1000000' -> bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    number, unit = text[:-1], units.get(text[-1:].lower())
    if unit is None:
        number, unit = text, 1
    try:
        value = int(float(number) * unit) if len(number) <= 20 else 0
    except (ValueError, OverflowError):
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a size such as 4G, 512M or 1000000, got "
                                         f"{text[:40]!r}")
    return value


def one_line(text):
    """`text` with line breaks, terminal escapes and other unprintable characters escaped, so
    an error message is one line whatever the file or the exception put in it."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse's own format is `convert: error: ...` too; keep its exit code 2 but one line.
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    parser = _Parser(
        prog="convert",
        description="Convert a PyTorch checkpoint (ResNet-SPD state_dict, YOLOv5 training "
                    "checkpoint, or YOLOv5 state_dict + --yaml) into an spdinfer model file. "
                    "Never runs code from the checkpoint.")
    parser.add_argument("input", metavar="IN", help="checkpoint written by torch.save")
    parser.add_argument("-o", "--output", metavar="OUT", required=True,
                        help="model file to write (.safetensors)")
    parser.add_argument("--yaml", metavar="ARCH.yaml",
                        help="YOLOv5 model YAML (needed for a plain YOLOv5 state_dict)")
    parser.add_argument("--names", metavar="FILE",
                        help="class names, one per line (overrides the checkpoint's)")
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="preprocessing preset (default: by family and class count)")
    parser.add_argument("--input-size", metavar="N|HxW", type=parse_input_size,
                        help="network input size, overriding the preset's")
    parser.add_argument("--max-checkpoint-bytes", metavar="SIZE", type=parse_byte_size,
                        default=DEFAULT_MAX_CHECKPOINT_BYTES,
                        help="most bytes read from the checkpoint, inflated (default "
                             f"{format_bytes(DEFAULT_MAX_CHECKPOINT_BYTES)}); members inflating "
                             f"past {MAX_INFLATE_RATIO}x the file's size are refused regardless")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        metadata = convert(args.input, args.output, args.yaml, args.names, args.preset,
                           args.input_size, args.max_checkpoint_bytes)
    except ConvertError as e:
        print(one_line(f"convert: error: {e}"), file=sys.stderr)
        return 2
    except Exception as e:  # a bug or an input we did not foresee: still one line, no traceback
        print(one_line(f"convert: error: {args.input}: unexpected {type(e).__name__}: {e}"),
              file=sys.stderr)
        return 2
    print(f"convert: wrote {args.output} ({metadata['family']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
