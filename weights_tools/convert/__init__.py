"""Checkpoint conversion: a PyTorch checkpoint -> an spdinfer model file (safetensors + metadata).

What it is: the package of the converter (`converter.py`, also run as
`python3 -m weights_tools.convert`), the safe checkpoint reader (`checkpoint.py`) and the bounds
on what reading costs (`read_budget.py`), ResNet-SPD shape inference (`resnet_arch.py`), the
safetensors container (`safetensors_io.py`) and the YOLOv5 -> SPD-YOLOv5 transplant
(`transplant.py`, `python3 -m weights_tools.convert.transplant`).
The converter's API is re-exported here, so `from weights_tools.convert import convert` works.
What it is not: the PyTorch models (weights_tools.reference). Importing it imports no torch.
"""

from .converter import PRESETS, ConvertError, convert, main, yolov5_strides_from_yaml

__all__ = ['PRESETS', 'ConvertError', 'convert', 'main', 'yolov5_strides_from_yaml']
