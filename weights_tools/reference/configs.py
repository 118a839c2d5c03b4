"""Architecture descriptions (the YAML dicts) of the model families spdinfer runs.

What it is: standard YOLOv5 v6/v7 (`yolov5n/s/m/l/x`) and the SPD-Conv fork's
`space_depth_n/s/m/l`, as the dicts `yaml.safe_load` gives for their YAML files, for tests,
benchmarks and the transplant tool. What it is not: a loader; a checkpoint carries its own.
"""

import copy

ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]

# (depth_multiple, width_multiple) per model size, as in the upstream YAML files.
MULTIPLIERS = {'n': (0.33, 0.25), 's': (0.33, 0.50), 'm': (0.67, 0.75), 'l': (1.0, 1.0), 'x': (1.33, 1.25)}

YOLOV5_LAYERS = {
    'backbone': [
        [-1, 1, 'Conv', [64, 6, 2, 2]], [-1, 1, 'Conv', [128, 3, 2]], [-1, 3, 'C3', [128]],
        [-1, 1, 'Conv', [256, 3, 2]], [-1, 6, 'C3', [256]], [-1, 1, 'Conv', [512, 3, 2]],
        [-1, 9, 'C3', [512]], [-1, 1, 'Conv', [1024, 3, 2]], [-1, 3, 'C3', [1024]], [-1, 1, 'SPPF', [1024, 5]],
    ],
    'head': [
        [-1, 1, 'Conv', [512, 1, 1]], [-1, 1, 'nn.Upsample', [None, 2, 'nearest']], [[-1, 6], 1, 'Concat', [1]],
        [-1, 3, 'C3', [512, False]], [-1, 1, 'Conv', [256, 1, 1]], [-1, 1, 'nn.Upsample', [None, 2, 'nearest']],
        [[-1, 4], 1, 'Concat', [1]], [-1, 3, 'C3', [256, False]], [-1, 1, 'Conv', [256, 3, 2]],
        [[-1, 14], 1, 'Concat', [1]], [-1, 3, 'C3', [512, False]], [-1, 1, 'Conv', [512, 3, 2]],
        [[-1, 10], 1, 'Concat', [1]], [-1, 3, 'C3', [1024, False]], [[17, 20, 23], 1, 'Detect', ['nc', 'anchors']],
    ],
}

# The SPD-Conv fork: every stride-2 Conv becomes a stride-1 Conv + space_to_depth; the stem is Focus.
SPACE_DEPTH_LAYERS = {
    'backbone': [
        [-1, 1, 'Focus', [64, 3]], [-1, 1, 'Conv', [128, 3, 1]], [-1, 1, 'space_to_depth', [1]],
        [-1, 3, 'C3', [128]], [-1, 1, 'Conv', [256, 3, 1]], [-1, 1, 'space_to_depth', [1]],
        [-1, 6, 'C3', [256]], [-1, 1, 'Conv', [512, 3, 1]], [-1, 1, 'space_to_depth', [1]],
        [-1, 9, 'C3', [512]], [-1, 1, 'Conv', [1024, 3, 1]], [-1, 1, 'space_to_depth', [1]],
        [-1, 3, 'C3', [1024]], [-1, 1, 'SPPF', [1024, 5]],
    ],
    'head': [
        [-1, 1, 'Conv', [512, 1, 1]], [-1, 1, 'nn.Upsample', ['None', 2, 'nearest']], [[-1, 9], 1, 'Concat', [1]],
        [-1, 3, 'C3', [512, False]], [-1, 1, 'Conv', [256, 1, 1]], [-1, 1, 'nn.Upsample', ['None', 2, 'nearest']],
        [[-1, 6], 1, 'Concat', [1]], [-1, 3, 'C3', [256, False]], [-1, 1, 'Conv', [256, 3, 1]],
        [-1, 1, 'space_to_depth', [1]], [[-1, 18], 1, 'Concat', [1]], [-1, 3, 'C3', [512, False]],
        [-1, 1, 'Conv', [512, 3, 1]], [-1, 1, 'space_to_depth', [1]], [[-1, 14], 1, 'Concat', [1]],
        [-1, 3, 'C3', [1024, False]], [[21, 25, 29], 1, 'Detect', ['nc', 'anchors']],
    ],
}


def _config(layers, size, nc):
    if size not in MULTIPLIERS:
        raise ValueError(f'unknown model size {size!r}; expected one of {sorted(MULTIPLIERS)}')
    depth, width = MULTIPLIERS[size]
    return {'nc': nc, 'depth_multiple': depth, 'width_multiple': width, 'anchors': copy.deepcopy(ANCHORS),
            **copy.deepcopy(layers), 'ch': 3}


def yolov5_config(size='s', nc=80):
    """Standard YOLOv5 v6/v7 `yolov5{size}.yaml` as a dict."""
    return _config(YOLOV5_LAYERS, size, nc)


def space_depth_config(size='n', nc=80):
    """The SPD-Conv fork's `space_depth_{size}.yaml` as a dict (size n, s, m or l)."""
    if size == 'x':
        raise ValueError('the SPD-Conv reference has no space_depth_x')
    return _config(SPACE_DEPTH_LAYERS, size, nc)
