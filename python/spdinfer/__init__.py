"""spdinfer from Python: SPD-Conv detectors and classifiers on the CPU.

    import spdinfer
    model = spdinfer.load("assets/scenes_spd_yolov5n.safetensors", threads=2)
    result = model.detect("assets/scenes/demo_scene.jpg", conf=0.15)
    result.xyxy    # (N, 6) float32: x1, y1, x2, y2, confidence, class
    result.names   # the model's class names

The work is done by the C++ engine (the extension module spdinfer._spdinfer),
with the GIL released; one Model may serve many threads. Every bad input raises
spdinfer.Error (a ValueError) with the spdinfer command's one-line message.
"""

from ._spdinfer import Detections, Error, Model, load, load_image

__all__ = ["Detections", "Error", "Model", "load", "load_image"]

# Shown as spdinfer.Error (not spdinfer._spdinfer.Error) in tracebacks and help().
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
