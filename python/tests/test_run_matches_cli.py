"""Model.run gives the raw outputs `spdinfer run` writes for the same input, the model's and the
named layers' (--outputs)."""

import numpy as np

from conftest import FASHION_MODEL, SCENE_MODEL, run_cli


def cli_run(model, x, tmp_path, *outputs):
    np.save(tmp_path / "x.npy", x)
    extra = ["--outputs", ",".join(outputs)] if outputs else []
    done = run_cli("run", model, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", *extra)
    assert done.returncode == 0, done.stderr
    if len(outputs) <= 1:
        return np.load(tmp_path / "y.npy")
    return {name: np.load(tmp_path / f"y.{name}.npy") for name in outputs}


def test_model_output(fashion_model, tmp_path):
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32), dtype=np.float32)
    y = fashion_model.run(x)
    assert y.dtype == np.float32 and y.shape == (2, fashion_model.info["classes"])
    np.testing.assert_array_equal(y, cli_run(FASHION_MODEL, x, tmp_path))


def test_named_layers(spdinfer, tmp_path):
    model = spdinfer.load(SCENE_MODEL)
    x = np.random.default_rng(2).random((1, 3, 64, 96), dtype=np.float32)
    layers = ["model.0", "model.2"]
    got = model.run(x, outputs=layers)
    want = cli_run(SCENE_MODEL, x, tmp_path, *layers)
    assert list(got) == layers
    for name in layers:
        assert got[name].ndim == 4 and got[name].shape[0] == 1
        np.testing.assert_array_equal(got[name], want[name])


def test_non_contiguous_input_is_copied(fashion_model):
    x = np.random.default_rng(3).standard_normal((2, 32, 32, 3), dtype=np.float32)
    strided = x.transpose(0, 3, 1, 2)
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(fashion_model.run(strided), fashion_model.run(np.ascontiguousarray(strided)))
