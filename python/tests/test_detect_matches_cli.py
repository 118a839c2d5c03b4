"""Model.detect gives the detections `spdinfer detect --json` gives for the same files and
options: the bundled scene and detector (assets/), plain and sliced, and the real YOLOv5n on the
shared photos; the same boxes to 1e-3 once rounded as the command rounds them, the same classes
and confidences. Arrays give what their files give."""

import os

import numpy as np
import pytest

from conftest import SCENE, SCENE_MODEL, cli_json


def assert_same(result, line, names):
    """A Detections against one JSON line of the command."""
    want = line["detections"]
    assert (result.width, result.height) == (line["width"], line["height"])
    assert len(result) == len(want), (result, [d["class_name"] for d in want])
    assert len(want) > 0, "a comparison of no boxes would prove nothing"
    xyxy = result.xyxy.astype(np.float64)
    # The command prints boxes with 2 decimals and confidences with 6 significant digits.
    np.testing.assert_allclose(np.round(xyxy[:, :4], 2), [d["box"] for d in want], rtol=0, atol=1e-3)
    np.testing.assert_allclose(xyxy[:, 4], [d["confidence"] for d in want], rtol=1e-5, atol=0)
    assert [int(c) for c in xyxy[:, 5]] == [d["class_id"] for d in want]
    assert [names[int(c)] for c in xyxy[:, 5]] == [d["class_name"] for d in want]


def test_result_layout(scene_model):
    result = scene_model.detect(SCENE)
    assert result.xyxy.dtype == np.float32 and result.xyxy.ndim == 2 and result.xyxy.shape[1] == 6
    assert result.names == scene_model.info["names"]
    assert result.image == str(SCENE)
    assert np.all(np.diff(result.xyxy[:, 4]) <= 0), "highest confidence first"


@pytest.mark.parametrize("options, cli_options", [
    ({}, []),
    ({"conf": 0.15, "agnostic": True}, ["--conf", "0.15", "--agnostic"]),
    ({"conf": 0.1, "iou": 0.3, "max_det": 5, "classes": [1, 4], "img_size": 320},
     ["--conf", "0.1", "--iou", "0.3", "--max-det", "5", "--classes", "1,4", "--img", "320"]),
    ({"conf": 0.1, "classes": ["Ankle boot", 4, "Sandal"]}, ["--conf", "0.1", "--classes", "Ankle boot,4,Sandal"]),
    ({"conf": 0.1, "classes": "Bag"}, ["--conf", "0.1", "--classes", "8"]),
    ({"slice": (320, 256), "overlap": 0.25, "conf": 0.15},
     ["--slice", "320x256", "--overlap", "0.25", "--conf", "0.15"]),
    ({"slice": 256, "full_pass": False, "merge": "nms", "match": "iou", "merge_thres": 0.4, "tile_batch": 3},
     ["--slice", "256", "--no-full-pass", "--merge", "nms", "--match", "iou", "--merge-thres", "0.4",
      "--tile-batch", "3"]),
])
def test_bundled_scene_matches_the_command(scene_model, options, cli_options):
    [line] = cli_json("detect", SCENE_MODEL, SCENE, "--nosave", *cli_options)
    assert_same(scene_model.detect(SCENE, **options), line, scene_model.info["names"])


def test_threads_give_the_same_detections(spdinfer, scene_model):
    two = spdinfer.load(SCENE_MODEL, threads=2)
    one, other = scene_model.detect(SCENE, conf=0.1), two.detect(SCENE, conf=0.1)
    np.testing.assert_allclose(other.xyxy, one.xyxy, rtol=0, atol=1e-3)


def test_array_and_path_like_inputs_match_the_file(spdinfer, scene_model):
    from_file = scene_model.detect(SCENE)
    pixels = spdinfer.load_image(SCENE)
    assert pixels.dtype == np.uint8 and pixels.shape == (from_file.height, from_file.width, 3)
    from_array, from_path_like = scene_model.detect([pixels, SCENE])
    np.testing.assert_array_equal(from_array.xyxy, from_file.xyxy)
    np.testing.assert_array_equal(from_path_like.xyxy, from_file.xyxy)
    assert from_array.image == "images[0]"
    assert scene_model.detect(os.fsencode(SCENE)).image == str(SCENE)


def test_list_in_list_out(scene_model):
    assert scene_model.detect([]) == []
    results = scene_model.detect((SCENE, SCENE))
    assert isinstance(results, list) and len(results) == 2
    np.testing.assert_array_equal(results[0].xyxy, results[1].xyxy)


def test_shared_photos_match_the_command(spdinfer, yolov5n, shared_photos):
    model = spdinfer.load(yolov5n, threads=2)
    lines = cli_json("detect", yolov5n, *shared_photos, "--nosave", "--threads", "2")
    results = model.detect(shared_photos)
    for result, line in zip(results, lines, strict=True):
        assert_same(result, line, model.info["names"])
    # What the README of ../shared says the photos show.
    assert "4 persons, 1 bus" in repr(results[0])
    assert "2 persons, 1 tie" in repr(results[1])
