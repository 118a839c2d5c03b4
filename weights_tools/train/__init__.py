"""Training: the recipes behind the bundled models and the data they learn from.

What it is: `classifier.py` (ResNet-SPD on Fashion-MNIST), `detector.py` (SPD-YOLOv5 / YOLOv5 on
generated scenes), `synth_scenes.py` (those scenes), `fashion_mnist.py` (the idx files both read)
and `stopwatch.py` (wall and CPU seconds for their logs); each script runs as
`python3 -m weights_tools.train.<name>`.
What it is not: anything the converter, the reference models or the engine import.
"""
