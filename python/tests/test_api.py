"""The Python surface itself: info, docstrings and stubs, repr, pickling (for process pools)."""

import pickle
from pathlib import Path

import numpy as np

from conftest import FASHION_MODEL, REPO, SCENE, SCENE_MODEL


def test_info(scene_model, fashion_model):
    info = scene_model.info
    assert info["family"] == "yolov5" and info["path"] == str(SCENE_MODEL)
    assert info["classes"] == len(info["names"]) > 0
    assert info["stride"] == max(info["strides"]) and info["input_size"] == (320, 320)  # what detect uses
    assert info["parameters"] > 0
    info = fashion_model.info
    assert info["family"] == "resnet_spd"
    assert info["names"] == (REPO / "assets" / "fashion_mnist.names").read_text().split("\n")[:info["classes"]]
    assert len(info["input_size"]) == 2 and info["resize"]


def test_version_is_the_projects(spdinfer):
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert f"project(spdinfer VERSION {spdinfer.__version__} " in cmake
    assert f'version = "{spdinfer.__version__}"' in (REPO / "pyproject.toml").read_text()


def test_docstrings(spdinfer):
    assert "threads" in spdinfer.load.__doc__
    for word in ["conf=0.25", "slice", "xyxy", "spdinfer.Error"]:
        assert word in spdinfer.Model.detect.__doc__
    assert "topk" in spdinfer.Model.classify.__doc__ and "outputs" in spdinfer.Model.run.__doc__


def test_type_stub_ships_with_the_package(spdinfer):
    package = Path(spdinfer.__file__).parent
    assert (package / "py.typed").exists()
    stub = (package / "__init__.pyi").read_text()
    for name in ["def load(", "def detect(", "def classify(", "def run(", "class Detections", "class Error"]:
        assert name in stub


def test_repr(scene_model):
    assert repr(scene_model).startswith("spdinfer.Model(") and "yolov5" in repr(scene_model)
    text = repr(scene_model.detect(SCENE))
    assert text.startswith(f"Detections({SCENE}, ") and ": " in text


def test_pickle(spdinfer, scene_model):
    model = pickle.loads(pickle.dumps(spdinfer.load(FASHION_MODEL, threads=2)))
    assert model.path == str(FASHION_MODEL) and model.threads == 2
    result = scene_model.detect(SCENE)
    copy = pickle.loads(pickle.dumps(result))
    np.testing.assert_array_equal(copy.xyxy, result.xyxy)
    assert (copy.names, copy.image, copy.width, copy.height) == (result.names, result.image, result.width,
                                                                 result.height)
