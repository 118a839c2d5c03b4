"""The project's own PyTorch definitions of the model families spdinfer runs.

What it is: builders for both families from the `architecture` JSON of a spdinfer model file
(docs/design.md), and `load_model` / `load`, which turn a model file or a training checkpoint into
an eval-mode float32 torch module with its weights loaded strictly. The engine's numerics are
judged against these modules (tests/python/test_reference_models.py proves them equal to the
upstream code's outputs). Beside them in this package, each runnable with
`python3 -m weights_tools.reference.<name>`: `pipeline` (the image -> answer reference of
`spdinfer detect` / `classify`), `dump_golden` (every layer's output, for the engine's golden
tests) and `random_model` (random-weight model files for tests and benchmarks).
What it is not: the upstream YOLOv5 / SPD-Conv code (nothing of it is imported or needed) nor a
checkpoint reader (that is weights_tools.convert.checkpoint / weights_tools.convert).
"""

import json
import os
import tempfile

import numpy as np
import torch

from weights_tools.convert import convert
from weights_tools.convert.safetensors_io import read_safetensors

from .resnet_spd import build_resnet_spd, resnet_spd, resnet_spd_architecture
from .yolov5 import build_yolov5

__all__ = ['build_model', 'build_resnet_spd', 'build_yolov5', 'load', 'load_model', 'model_from_tensors',
           'resnet_spd', 'resnet_spd_architecture']

BUILDERS = {'yolov5': build_yolov5, 'resnet_spd': build_resnet_spd}


def build_model(family, arch):
    """An eval-mode model of `family` ('yolov5' or 'resnet_spd') for an architecture dict."""
    if family not in BUILDERS:
        raise ValueError(f'unknown model family {family!r}; expected one of {sorted(BUILDERS)}')
    return BUILDERS[family](arch)


def parse_metadata(metadata):
    """Model-file `__metadata__` (all strings) -> dict with the JSON values decoded."""
    out = dict(metadata)
    for key in ('architecture', 'preprocess', 'class_names'):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out


def model_from_tensors(tensors, metadata, where='model'):
    """Build the model that `metadata` describes and load `tensors` (name -> array) strictly.

    Model files store float tensors only, so BatchNorm's `num_batches_tracked` counters (which
    never affect eval numerics) are filled with zeros when absent; every other name must match.
    """
    meta = parse_metadata(metadata)
    model = build_model(meta['family'], meta['architecture'])
    expected = model.state_dict()
    state = {}
    for name, value in tensors.items():
        t = torch.from_numpy(np.ascontiguousarray(value))
        ref = expected.get(name)
        state[name] = t.to(ref.dtype) if ref is not None else t
    for name, ref in expected.items():
        if name not in state and name.endswith('num_batches_tracked'):
            state[name] = torch.zeros_like(ref)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f'{where}: weights do not fit the {meta["family"]} architecture it describes: {e}') from None
    return model.float().eval(), meta


def load(path):
    """(eval-mode fp32 model, decoded metadata) for a spdinfer model file or a checkpoint.

    A checkpoint goes through the converter into a temporary model file first, so the model
    built is exactly the one the engine would get from `weights_tools.convert`.
    """
    if path.endswith('.safetensors'):
        tensors, metadata = read_safetensors(path)
    else:
        with tempfile.TemporaryDirectory(prefix='spdinfer-') as tmp:
            converted = os.path.join(tmp, 'model.safetensors')
            convert(path, converted)
            tensors, metadata = read_safetensors(converted)
    return model_from_tensors(tensors, metadata, where=os.path.basename(path))


def load_model(path):
    """An eval-mode fp32 torch module with the weights of `path` (.safetensors or checkpoint)."""
    return load(path)[0]
