"""weights_tools.train.detector --init: a run that starts from a trained model's weights.

What it is: a three-epoch SPD-YOLOv5n run on the tiny scene set (tests/python/train_support.py)
makes a model file; a network built for the same classes and started from it by --init's
init_weights holds exactly that file's weights, and a short run with --init trains from them and
writes its model. Then the ways --init is refused: a file whose classes are not the dataset's, a
network of another architecture. Needs Debian's PyTorch and dataset-fashion-mnist (skips with a
message without the latter).
What it is not: a test of what fine-tuning reaches (docs/experiments.md).
"""

import os
import unittest

import torch

from weights_tools.reference import load
from weights_tools.train.detector import TrainError, build_model, init_weights
from weights_tools.train.fashion_mnist import DEFAULT_DATA

from tests.python.train_support import TinyTrainingTest


@unittest.skipUnless(os.path.isdir(DEFAULT_DATA), f'{DEFAULT_DATA} absent (Debian package dataset-fashion-mnist)')
class InitTest(TinyTrainingTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        trained = os.path.join(cls.tmp.name, 'trained')
        status, _, err = cls.train(trained)
        assert status == 0, err
        cls.model_file = os.path.join(trained, 'model.safetensors')
        cls.names = load(cls.model_file)[1]['class_names']

    def test_starts_from_the_files_weights(self):
        model, _ = build_model('space_depth_n', len(self.names), 64)
        init_weights(model, self.model_file, self.names)
        want = load(self.model_file)[0].state_dict()
        got = model.state_dict()
        self.assertEqual(set(got), set(want))
        for name, value in want.items():
            self.assertTrue(torch.equal(got[name], value.to(got[name].dtype)), name)
        self.assertTrue(model.training)  # ready to train, as build_model leaves it

    def test_a_run_with_init_trains_and_writes_its_model(self):
        out = os.path.join(self.tmp.name, 'continued')
        status, stdout, err = self.train(out, '--init', self.model_file, '--epochs', '1')
        self.assertEqual(status, 0, err)
        self.assertTrue(os.path.isfile(os.path.join(out, 'model.safetensors')), stdout)
        continued = load(os.path.join(out, 'model.safetensors'))[0].state_dict()
        start = load(self.model_file)[0].state_dict()
        self.assertTrue(any(not torch.equal(continued[k], start[k]) for k in start), 'the run changed no weight')

    def test_refuses_other_classes(self):
        model, _ = build_model('space_depth_n', len(self.names), 64)
        with self.assertRaisesRegex(TrainError, 'classes'):
            init_weights(model, self.model_file, list(reversed(self.names)))

    def test_refuses_another_architecture(self):
        model, _ = build_model('yolov5n', len(self.names), 64)
        with self.assertRaisesRegex(TrainError, 'layers do not match'):
            init_weights(model, self.model_file, self.names)

    def test_cli_names_the_file_it_refuses(self):
        status, _, err = self.train(os.path.join(self.tmp.name, 'bad'), '--init', self.data)
        self.assertEqual(status, 2)
        self.assertIn('--init', err)
        self.assertIn('dataset.json', err)


if __name__ == '__main__':
    unittest.main()
