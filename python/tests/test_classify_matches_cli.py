"""Model.classify gives the top-k `spdinfer classify --json` gives, on the bundled Fashion-MNIST
classifier and images (assets/)."""

import numpy as np

from conftest import FASHION_IMAGES, FASHION_MODEL, cli_json


def test_topk_matches_the_command(fashion_model):
    lines = cli_json("classify", FASHION_MODEL, *FASHION_IMAGES, "--topk", "3")
    results = fashion_model.classify(FASHION_IMAGES, topk=3)
    assert len(results) == len(lines) == len(FASHION_IMAGES) > 0
    for (indices, probabilities), line in zip(results, lines, strict=True):
        assert indices.dtype == np.int64 and probabilities.dtype == np.float32
        assert indices.tolist() == [c["class_id"] for c in line["topk"]]
        np.testing.assert_allclose(probabilities, [c["probability"] for c in line["topk"]], rtol=1e-5, atol=1e-7)


def test_bundled_images_are_classified_as_their_names_say(fashion_model):
    # The files are named t10k_INDEX_LABEL_NAME.png; the bundled model gets them all right.
    names = fashion_model.info["names"]
    for image in FASHION_IMAGES:
        indices, probabilities = fashion_model.classify(image, topk=1)
        assert int(image.stem.split("_")[2]) == indices[0], (image, names[indices[0]])
        assert 0 < probabilities[0] <= 1


def test_topk_is_clamped_to_the_classes(fashion_model):
    indices, probabilities = fashion_model.classify(FASHION_IMAGES[0], topk=1000)
    assert sorted(indices.tolist()) == list(range(fashion_model.info["classes"]))
    assert abs(float(probabilities.sum()) - 1) < 1e-5
