"""What the detector-training tests share: a CLI entry point run with its output captured, a
tiny generated scene set (24 training scenes of 96 px with 2-4 objects of 8-24 px), and a test
base that makes the set once per class and trains SPD-YOLOv5n on it for three epochs at input 64
(one thread, so the arithmetic is the same run to run).

What it is not: a test itself, nor anything the tools import.
"""

import contextlib
import io
import os
import tempfile
import unittest

from weights_tools.train.detector import main as train_detector
from weights_tools.train.synth_scenes import main as make_scenes


def quiet(fn, *args):
    """(status, stdout, stderr) of fn(*args), its printing captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = fn(*args)
    return status, out.getvalue(), err.getvalue()


def tiny_scenes(directory):
    """Generates the tiny scene set into `directory`; returns its dataset.json."""
    status, _, err = quiet(make_scenes, ['--out', directory, '--train', '24', '--val', '2', '--test', '2',
                                         '--size', '96', '--object-size', '8-24', '--objects', '2-4'])
    assert status in (0, None), err
    return os.path.join(directory, 'dataset.json')


class TinyTrainingTest(unittest.TestCase):
    """Subclasses get self.data (the tiny set), self.tmp (removed after the class) and train()."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.data = tiny_scenes(os.path.join(cls.tmp.name, 'data'))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def train(cls, out, *extra):
        """(status, stdout, stderr) of a three-epoch run into `out`, with `extra` arguments."""
        return quiet(train_detector, [cls.data, '--arch', 'space_depth_n', '--out', out, '--epochs', '3',
                                      '--img', '64', '--batch', '8', '--threads', '1', '--warmup-epochs', '0',
                                      *extra])
