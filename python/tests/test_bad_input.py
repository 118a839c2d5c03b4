"""Every bad input raises spdinfer.Error (a ValueError) with a one-line message naming what is
wrong, the command's own message where the command has one; never a crash. Arrays that are
merely strided are copied and give the contiguous array's result."""

import numpy as np
import pytest

from conftest import FASHION_MODEL, SCENE, SCENE_MODEL, cli_error


def one_line_error(spdinfer, call, *fragments):
    with pytest.raises(spdinfer.Error) as caught:
        call()
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert "\n" not in message and message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_error_is_a_value_error(spdinfer):
    assert issubclass(spdinfer.Error, ValueError)


def test_missing_and_bad_model_files(spdinfer, tmp_path):
    missing = tmp_path / "missing.safetensors"
    message = one_line_error(spdinfer, lambda: spdinfer.load(missing), str(missing))
    assert message == cli_error("info", missing)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}")
    message = one_line_error(spdinfer, lambda: spdinfer.load(junk), str(junk))
    assert message == cli_error("info", junk)
    one_line_error(spdinfer, lambda: spdinfer.load(SCENE_MODEL, threads=0), "threads=0")


def test_missing_and_bad_image_files(spdinfer, scene_model, tmp_path):
    missing = tmp_path / "missing.jpg"
    # The command says "no such file or directory" before it opens anything (it expands its
    # arguments first); the module's message is the image loader's.
    one_line_error(spdinfer, lambda: scene_model.detect(missing), f"{missing}: cannot open image")
    text = tmp_path / "text.jpg"
    text.write_text("not a picture")
    message = one_line_error(spdinfer, lambda: scene_model.detect([SCENE, text]), str(text))
    assert message == cli_error("detect", SCENE_MODEL, text, "--nosave")
    one_line_error(spdinfer, lambda: spdinfer.load_image(text), str(text))


def test_wrong_model_family(spdinfer, scene_model, fashion_model):
    one_line_error(spdinfer, lambda: scene_model.classify(SCENE), str(SCENE_MODEL), "use detect()")
    one_line_error(spdinfer, lambda: fashion_model.detect(SCENE), str(FASHION_MODEL), "use classify()")


@pytest.mark.parametrize("array, fragments", [
    (np.zeros((64, 64, 3), np.float32), ["images", "dtype float32", "uint8"]),
    (np.zeros((64, 64, 3), np.int16), ["dtype int16"]),
    (np.zeros((64, 64), np.uint8), ["shape (64, 64)", "(height, width, 3)"]),
    (np.zeros((2, 64, 64, 3), np.uint8), ["shape (2, 64, 64, 3)"]),
    (np.zeros((64, 64, 4), np.uint8), ["shape (64, 64, 4)"]),
    (np.zeros((3, 64, 64), np.uint8), ["shape (3, 64, 64)"]),
    (np.zeros((0, 64, 3), np.uint8), ["empty", "(0, 64, 3)"]),
    (np.zeros((64, 0, 3), np.uint8), ["empty"]),
    (np.zeros(5, np.uint8), ["shape (5,)"]),
    # 30000 x 30000 without the memory (a broadcast view): refused before any copy.
    (np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (30000, 30000, 3)), ["larger than 20000"]),
    (np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (15000, 15000, 3)), ["100000000 pixels"]),
])
def test_bad_image_arrays(spdinfer, scene_model, fashion_model, array, fragments):
    one_line_error(spdinfer, lambda: scene_model.detect(array), *fragments)
    one_line_error(spdinfer, lambda: fashion_model.classify([array]), "images[0]", *fragments)


def test_items_that_are_not_images(spdinfer, scene_model):
    one_line_error(spdinfer, lambda: scene_model.detect(42), "images: int")
    one_line_error(spdinfer, lambda: scene_model.detect([SCENE, None]), "images[1]: NoneType")
    one_line_error(spdinfer, lambda: scene_model.detect([[SCENE]]), "images[0]: list")
    one_line_error(spdinfer, lambda: scene_model.detect(""), "empty file path")
    one_line_error(spdinfer, lambda: scene_model.detect(f"{SCENE}\0.txt"), "NUL character")


def test_strided_arrays_are_copied(spdinfer, scene_model):
    pixels = spdinfer.load_image(SCENE)
    for view in (pixels[::-1], pixels[:, ::2], np.asfortranarray(pixels), pixels[10:300, 20:400]):
        assert not view.flags.c_contiguous or view.base is not None
        np.testing.assert_array_equal(scene_model.detect(view).xyxy,
                                      scene_model.detect(np.ascontiguousarray(view)).xyxy)


@pytest.mark.parametrize("options, fragments", [
    ({"conf": 1.5}, ["conf=1.5", "0 to 1"]),
    ({"conf": float("nan")}, ["conf=nan"]),
    ({"iou": -0.1}, ["iou=-0.1"]),
    ({"max_det": 0}, ["max_det=0"]),
    ({"classes": [0, 99]}, ["classes: 99", "has 10 (0-9)"]),
    ({"classes": "a"}, ["classes: no class named 'a'", "0 T-shirt/top, 1 Trouser"]),
    ({"classes": ["Sandal", "sandal"]}, ["classes: no class named 'sandal'"]),
    ({"classes": 1.5}, ["classes=1.5", "class id (int), a class name (str)"]),
    ({"classes": [0, None]}, ["classes=[0, None]"]),
    ({"classes": True}, ["classes=True"]),
    ({"img_size": 16}, ["img_size=16", "32 to 8192"]),
    ({"slice": (16, 640)}, ["slice width=16"]),
    ({"slice": (640, 1, 2)}, ["slice=(640, 1, 2)"]),
    ({"slice": 256, "overlap": 0.99}, ["overlap=0.99"]),
    ({"slice": 256, "merge": "mean"}, ["merge='mean'", "'nmm' or 'nms'"]),
    ({"slice": 256, "match": "giou"}, ["match='giou'"]),
    ({"slice": 256, "merge_thres": 2}, ["merge_thres=2"]),
    ({"slice": 256, "tile_batch": 0}, ["tile_batch=0"]),
])
def test_bad_detect_arguments(spdinfer, scene_model, options, fragments):
    one_line_error(spdinfer, lambda: scene_model.detect(SCENE, **options), *fragments)


def test_bad_classify_and_run_arguments(spdinfer, fashion_model):
    one_line_error(spdinfer, lambda: fashion_model.classify(SCENE, topk=0), "topk=0")
    one_line_error(spdinfer, lambda: fashion_model.run(np.zeros((1, 3, 28, 28))), "input", "dtype float64")
    one_line_error(spdinfer, lambda: fashion_model.run(np.zeros((3, 28, 28), np.float32)), "shape (3, 28, 28)")
    one_line_error(spdinfer, lambda: fashion_model.run(np.zeros((1, 1, 28, 28), np.float32)), "(N, 3, H, W)")
    one_line_error(spdinfer, lambda: fashion_model.run(np.zeros((0, 3, 28, 28), np.float32)), "empty")
    huge = np.broadcast_to(np.zeros((1, 1, 1, 1), np.float32), (1, 3, 50000, 50000))
    one_line_error(spdinfer, lambda: fashion_model.run(huge), "larger than")
    one_line_error(spdinfer, lambda: fashion_model.run(np.zeros((1, 3, 28, 28), np.float32), outputs=["nope"]),
                   "no layer named 'nope'")
