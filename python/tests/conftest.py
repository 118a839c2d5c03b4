"""Fixtures for the binding's tests (python/tests/), run by CTest from the repo root with
PYTHONPATH=build/python (the module this build made) and SPDINFER_CLI (the command it made).

What they compare: spdinfer's Python API against the spdinfer command on the same files, so
every expected value comes from the command, never from a number written here.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SCENE_MODEL = REPO / "assets" / "scenes_spd_yolov5n.safetensors"
SCENE = REPO / "assets" / "scenes" / "demo_scene.jpg"
FASHION_MODEL = REPO / "assets" / "fashion_resnet_spd.safetensors"
FASHION_IMAGES = sorted((REPO / "assets" / "fashion_mnist").glob("*.png"))


def cli_path():
    path = os.environ.get("SPDINFER_CLI") or str(REPO / "build" / "spdinfer")
    if not os.path.exists(path):
        pytest.skip(f"spdinfer binary not found at {path} (build first, or set SPDINFER_CLI)")
    return path


def run_cli(*args):
    """The spdinfer command's CompletedProcess (text)."""
    return subprocess.run([cli_path(), *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def cli_json(*args):
    """`spdinfer ARGS --json`: the JSON lines on stdout, one dict per image."""
    done = run_cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def cli_error(*args):
    """The message of `spdinfer ARGS`, which must fail: its stderr without 'spdinfer: error: '."""
    done = run_cli(*args)
    assert done.returncode == 2, done.stderr
    return done.stderr.strip().removeprefix("spdinfer: error: ")


@pytest.fixture(scope="session")
def spdinfer():
    import spdinfer as module
    return module


@pytest.fixture(scope="session")
def scene_model(spdinfer):
    return spdinfer.load(SCENE_MODEL)


@pytest.fixture(scope="session")
def fashion_model(spdinfer):
    return spdinfer.load(FASHION_MODEL)


@pytest.fixture(scope="session")
def shared_photos():
    photos = [SHARED / "images" / "bus.jpg", SHARED / "images" / "zidane.jpg"]
    missing = [p for p in [SHARED / "weights" / "yolov5n.pt", *photos] if not p.exists()]
    if missing:
        pytest.skip(f"needs the shared test data {', '.join(map(str, missing))} (absent on this machine)")
    return photos


@pytest.fixture(scope="session")
def yolov5n(shared_photos, tmp_path_factory):
    """../shared/weights/yolov5n.pt converted to a spdinfer model file; its path."""
    out = tmp_path_factory.mktemp("yolov5n") / "yolov5n.safetensors"
    done = subprocess.run([sys.executable, "-m", "weights_tools.convert", SHARED / "weights" / "yolov5n.pt",
                           "-o", out], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return out
