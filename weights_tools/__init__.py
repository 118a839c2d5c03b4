"""spdinfer's Python side, one subpackage per concern.

- `weights_tools.convert`: PyTorch checkpoint -> spdinfer model file (safe checkpoint reader,
  ResNet-SPD shape inference, the safetensors container, the YOLOv5 -> SPD-YOLOv5 transplant).
  Needs only NumPy (torch only for the transplant's check).
- `weights_tools.reference`: the project's PyTorch models, the image -> answer reference pipeline,
  golden dumps and random-weight model fixtures: what the engine is judged against.
- `weights_tools.train`: training scripts (classifier, detector) and the synthetic detection
  scenes they learn from.

What it is not: anything the engine imports or needs at run time.
"""
