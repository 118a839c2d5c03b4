"""Layer-by-layer golden tests: the engine against the project's PyTorch reference models.

For each model the test writes a checkpoint (random weights, randomised BatchNorm), converts it,
dumps every layer's output from PyTorch (weights_tools/reference/dump_golden.py) and runs
`spdinfer golden` on it: every layer must be within 1e-4 of the layer's largest magnitude.
The real YOLOv5n and the reference SPD checkpoint from ../shared are checked too (skipped with a
message when ../shared is absent).
"""

import re
import sys
import unittest

import numpy as np

from tests.python.cli_support import GoldenFileTest, cli, run
from tests.python.helpers import shared_file
from weights_tools.reference.random_model import write_random_model

RTOL = 1e-4  # of the layer's largest magnitude


class GoldenTest(GoldenFileTest):

    def check_golden(self, model_path, shape, min_layers):
        golden = self.dump(model_path, '--random', '1', '--shape', ','.join(map(str, shape)))
        result = run(cli(), 'golden', model_path, golden, '--atol', '0', '--rtol', RTOL, '--threads', '2')
        table = result.stdout
        self.assertEqual(result.returncode, 0, table + result.stderr)
        passed = re.findall(r' PASS$', table, re.M)
        self.assertNotIn('FAIL', table)
        self.assertGreaterEqual(len(passed), min_layers, table)
        return table

    def random_model(self, name, **kwargs):
        path = self.dir / 'model.safetensors'
        write_random_model(name, str(path), seed=0, **kwargs)
        return path

    def test_resnet_spd_tinyimagenet_batch2(self):
        model = self.random_model('resnet_spd:bottleneck:3,4,6,3:200')
        table = self.check_golden(model, (2, 3, 64, 64), 40)
        self.assertRegex(table, r'conv3_x\.0\.residual_function\s+\(2, 512, 16, 16\)')
        self.assertRegex(table, r'\nfc\s+\(2, 200\)')

    def test_resnet_spd_cifar(self):
        model = self.random_model('resnet_spd:bottleneck:3,4,6,3:100')
        self.check_golden(model, (1, 3, 32, 32), 40)

    def test_resnet_spd_basic_block(self):
        model = self.random_model('resnet_spd:basic:2,2,2,2:10:16', preset='cifar')
        self.check_golden(model, (3, 3, 32, 32), 20)

    def test_spd_yolov5n_non_square(self):
        model = self.random_model('space_depth_n')
        table = self.check_golden(model, (1, 3, 256, 320), 94)
        self.assertRegex(table, r'\nmodel\.30\s+\(1, 5040, 85\)')

    def test_spd_yolov5s_non_square(self):
        model = self.random_model('space_depth_s')
        self.check_golden(model, (1, 3, 256, 320), 94)

    def test_yolov5s_standard(self):
        model = self.random_model('yolov5s')
        self.check_golden(model, (1, 3, 192, 256), 70)

    def test_real_yolov5n_640(self):
        checkpoint = shared_file('weights/yolov5n.pt')
        model = self.dir / 'yolov5n.safetensors'
        converted = run(sys.executable, '-m', 'weights_tools.convert', checkpoint, '-o', model)
        self.assertEqual(converted.returncode, 0, converted.stderr)
        self.check_golden(model, (1, 3, 640, 640), 70)

    def test_reference_checkpoint_reproduces_reference_outputs(self):
        """`spdinfer run` on the SPD-YOLOv5n checkpoint saved by the reference code gives the
        reference code's own output (spd_yolov5n_random_io.npz) to 1e-4 relative."""
        checkpoint = shared_file('reference/spd_yolov5n_random.pt')
        io = np.load(shared_file('reference/spd_yolov5n_random_io.npz'))
        model = self.dir / 'spd.safetensors'
        converted = run(sys.executable, '-m', 'weights_tools.convert', checkpoint, '-o', model)
        self.assertEqual(converted.returncode, 0, converted.stderr)
        np.save(self.dir / 'input.npy', io['input'].astype(np.float32))
        out = self.dir / 'out.npy'
        result = run(cli(), 'run', model, '--input', self.dir / 'input.npy', '--output', out)
        self.assertEqual(result.returncode, 0, result.stderr)
        got, want = np.load(out), io['output']
        self.assertEqual(got.shape, want.shape)
        self.assertLessEqual(np.abs(got - want).max() / np.abs(want).max(), RTOL)
        # The raw per-level head outputs too, by layer name.
        result = run(cli(), 'run', model, '--input', self.dir / 'input.npy', '--output', self.dir / 'y.npy',
                     '--outputs', 'model.30.m.0,model.30.m.1,model.30.m.2')
        self.assertEqual(result.returncode, 0, result.stderr)
        for level, key in enumerate(('p3', 'p4', 'p5')):
            raw = np.load(self.dir / f'y.model.30.m.{level}.npy')
            n, _, h, w = raw.shape
            raw = raw.reshape(n, 3, 85, h, w).transpose(0, 1, 3, 4, 2)
            self.assertLessEqual(np.abs(raw - io[key]).max() / np.abs(io[key]).max(), RTOL, key)


if __name__ == '__main__':
    unittest.main()
