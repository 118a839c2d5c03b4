"""Helpers for the tests that run the built `spdinfer` binary end to end (test_classify.py,
test_detect.py): finding the binary, running it and the converter, and checking the one-line
`spdinfer: error: ...` + exit 2 contract.

What it is not: a test, or anything the tools import.
"""

import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.python.helpers import REPO


def cli():
    """The spdinfer binary: $SPDINFER_CLI (CTest sets it), else build/spdinfer; skips if absent."""
    path = os.environ.get("SPDINFER_CLI") or str(REPO / "build" / "spdinfer")
    if not os.path.exists(path):
        raise unittest.SkipTest(f"spdinfer binary not found at {path} (build first, or set SPDINFER_CLI)")
    return path


def run(*args, timeout=600, cwd=REPO):
    """Run a command from the repo root (or CWD); CompletedProcess with text output."""
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def edited_model(source, path, edit):
    """The model file SOURCE copied to PATH with edit(header) applied to its safetensors header
    (a dict) and, when edit returns them, new tensor bytes; returns PATH."""
    data = Path(source).read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    body = edit(header) or data[8 + size:]
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + body)
    return path


def convert(src, out, *extra):
    """`python -m weights_tools.convert SRC -o OUT EXTRA...`; returns OUT, raises on failure."""
    done = run(sys.executable, "-m", "weights_tools.convert", src, "-o", out, *extra)
    if done.returncode != 0:
        raise AssertionError(f"convert failed: {done.stderr}")
    return out


def convert_tiny_yolov5(directory, seed):
    """helpers.make_tiny_yolov5_model(seed) saved as a training checkpoint in DIRECTORY and
    converted; returns the model file's path."""
    import torch
    from tests.python.helpers import make_tiny_yolov5_model
    torch.save({"model": make_tiny_yolov5_model(seed), "ema": None}, directory / f"yolo{seed}.pt")
    return convert(directory / f"yolo{seed}.pt", directory / f"yolo{seed}.safetensors")


class CliErrorAssertions:
    """Mixin for unittest.TestCase."""

    def assertOneLineError(self, done, *fragments, prefix="spdinfer: error: "):
        """Exit status 2, nothing on stdout, exactly one stderr line `spdinfer: error: ...`
        (or `prefix`...) containing every fragment."""
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        lines = done.stderr.splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        self.assertTrue(lines[0].startswith(prefix), lines[0])
        for f in fragments:
            self.assertIn(str(f), lines[0])
        self.assertEqual(done.stdout, "")


class GoldenFileTest(unittest.TestCase):
    """A temporary directory per test (self.dir) and `dump`, which writes a golden file there with
    weights_tools.reference.dump_golden (extra arguments: the input and options) and returns its path."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix='spdinfer-golden-')
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def dump(self, model, *args):
        golden = self.dir / 'golden.safetensors'
        done = run(sys.executable, '-m', 'weights_tools.reference.dump_golden', model, *args, '-o', golden)
        self.assertEqual(done.returncode, 0, done.stderr)
        return golden

