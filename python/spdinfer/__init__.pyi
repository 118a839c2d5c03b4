"""Type stubs for spdinfer (the extension module spdinfer._spdinfer)."""

import os
from typing import Any, Sequence, TypedDict, Union, overload

import numpy as np
import numpy.typing as npt
from typing_extensions import Unpack

_Path = Union[str, "os.PathLike[str]"]
# A file path, or an (H, W, 3) uint8 RGB array.
_Image = Union[_Path, npt.NDArray[np.uint8]]

__version__: str

class _DetectOptions(TypedDict, total=False):
    """Model.detect's keywords; the defaults are those of `spdinfer detect` (see Model.detect's docstring)."""

    conf: float  # 0.25
    iou: float  # 0.45
    max_det: int  # 1000
    classes: Union[int, str, Sequence[Union[int, str]], None]  # ids or names; None: all
    agnostic: bool  # False
    img_size: Union[int, None]  # None: the model's recorded input size
    slice: Union[int, tuple[int, int], None]  # None: no sliced inference; the rest apply only with it
    overlap: float  # 0.2
    full_pass: bool  # True
    merge: str  # 'nmm' or 'nms'
    match: str  # 'ios' or 'iou'
    merge_thres: float  # 0.5
    tile_batch: int  # 8

class Error(ValueError):
    """What is wrong with a file, an image, an array or an argument, in one line."""

class Detections:
    """One image's detections."""

    @property
    def xyxy(self) -> npt.NDArray[np.float32]:
        """(N, 6): x1, y1, x2, y2, confidence, class; highest confidence first."""
    @property
    def names(self) -> list[str]:
        """The model's class names, by class id."""
    @property
    def image(self) -> str:
        """The file, or 'images[i]' for an array."""
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    def __len__(self) -> int: ...

class Model:
    """A loaded model file. Thread-safe: one Model may serve many threads."""

    @property
    def info(self) -> dict[str, Any]:
        """family, path, classes, names, input_size, parameters, metadata; strides and stride
        (detectors) or resize (classifiers)."""
    @property
    def path(self) -> str: ...
    @property
    def threads(self) -> int: ...
    @overload
    def detect(self, images: _Image, **options: Unpack[_DetectOptions]) -> Detections: ...
    @overload
    def detect(self, images: Sequence[_Image], **options: Unpack[_DetectOptions]) -> list[Detections]: ...
    @overload
    def classify(
        self, images: _Image, topk: int = 5
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    @overload
    def classify(
        self, images: Sequence[_Image], topk: int = 5
    ) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]: ...
    @overload
    def run(self, input: npt.NDArray[np.float32], outputs: None = None) -> npt.NDArray[np.float32]: ...
    @overload
    def run(
        self, input: npt.NDArray[np.float32], outputs: Sequence[str]
    ) -> dict[str, npt.NDArray[np.float32]]: ...

def load(path: _Path, threads: int = 1) -> Model:
    """Load a spdinfer model file (a YOLOv5-family detector or a ResNet-SPD classifier)."""

def load_image(path: _Path) -> npt.NDArray[np.uint8]:
    """A JPEG, PNG or BMP file decoded by the engine: (H, W, 3) uint8 RGB."""
