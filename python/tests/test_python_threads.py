"""One Model called from two Python threads at once gives what one thread gives, image by
image (the GIL is released during inference, and the engine's objects are read-only)."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from conftest import FASHION_IMAGES, SCENE


def test_two_threads_detect_as_one(spdinfer, scene_model):
    pixels = spdinfer.load_image(SCENE)
    # Different work per call (inputs, options), so a mix-up between threads would show.
    calls = [(SCENE, {}), (pixels[:, ::-1], {"conf": 0.1}), (pixels[::2, ::2], {}),
             (SCENE, {"slice": 256}), (pixels[100:, 50:], {"agnostic": True})] * 2
    one = [scene_model.detect(image, **options).xyxy for image, options in calls]
    with ThreadPoolExecutor(max_workers=2) as pool:
        two = list(pool.map(lambda call: scene_model.detect(call[0], **call[1]).xyxy, calls))
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_two_threads_classify_as_one(fashion_model):
    one = [fashion_model.classify(image) for image in FASHION_IMAGES]
    with ThreadPoolExecutor(max_workers=2) as pool:
        two = list(pool.map(fashion_model.classify, FASHION_IMAGES))
    for (i1, p1), (i2, p2) in zip(one, two, strict=True):
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(p1, p2)
