"""Tests of weights_tools/convert/transplant.py: standard YOLOv5 -> SPD-YOLOv5 with the same function.

What they prove: the two identities the mapping rests on (stride-2 conv = slot 0 of space_to_depth
of the stride-1 conv; the 6x6 stem = Focus with rearranged taps), that a random YOLOv5s and the
real YOLOv5n (../shared, skipped with a message when absent) map onto the reference space_depth_s/n
with the same Detect output to 1e-4 relative, in PyTorch and in the engine (`spdinfer run`, and
`spdinfer detect` on the shared photos), that the training checkpoint and the converter's input
it writes load, and that unmappable architectures are refused naming the layer.
Run from the repo root: /usr/bin/python3 -m unittest -v tests.python.test_transplant
"""

import copy
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tests.python.helpers import REPO, run_convert, shared_file
from tests.python.test_golden import cli, run
from weights_tools.convert import convert
from weights_tools.convert import transplant as tp
from weights_tools.convert.safetensors_io import read_safetensors, write_safetensors
from weights_tools.reference import build_yolov5, model_from_tensors
from weights_tools.reference.common import space_to_depth_tensor
from weights_tools.reference.configs import space_depth_config, yolov5_config
from weights_tools.reference.random_model import randomize_batchnorm, write_random_model

RTOL = 1e-4  # max |diff| / max |source output|


def rel_err(got, want):
    return float(np.abs(np.asarray(got, np.float64) - want).max() / np.abs(want).max())


def layers_of(arch, like):
    """`arch`'s entries for the keys of `like`, nn.Upsample's size None whether written None or
    'None' (configs.py writes yolov5 with None, space_depth with 'None', as their YAMLs read)."""
    return json.loads(json.dumps({k: arch[k] for k in like}).replace('"None"', 'null'))


def run_transplant(*args):
    return subprocess.run([sys.executable, '-m', 'weights_tools.convert.transplant', *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


class TransplantTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix='spdinfer-transplant-test-')
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def engine_output(self, model, x, name):
        """`spdinfer run` on model with input x; the Detect output."""
        np.save(self.dir / 'input.npy', x)
        out = self.dir / f'{name}.npy'
        result = run(cli(), 'run', model, '--input', self.dir / 'input.npy', '--output', out, '--threads', '2')
        self.assertEqual(result.returncode, 0, result.stderr)
        return np.load(out)


class IdentityTest(unittest.TestCase):
    """The two facts of docs/transplant.md, on odd channel counts and a non-square input."""

    def test_stride2_conv_is_slot0_of_space_to_depth(self):
        g = torch.Generator().manual_seed(0)
        x, w = torch.randn(2, 5, 12, 18, generator=g), torch.randn(7, 5, 3, 3, generator=g)
        strided = F.conv2d(x, w, stride=2, padding=1)
        spd = space_to_depth_tensor(F.conv2d(x, w, stride=1, padding=1))
        self.assertEqual(spd.shape, (2, 28, 6, 9))
        torch.testing.assert_close(spd[:, :7], strided, rtol=0, atol=1e-5)

    def test_6x6_stem_is_focus(self):
        g = torch.Generator().manual_seed(1)
        x, w6 = torch.randn(2, 3, 16, 20, generator=g), torch.randn(8, 3, 6, 6, generator=g)
        w3 = torch.from_numpy(tp.focus_stem_weight(w6.numpy()))
        self.assertEqual(w3.shape, (8, 12, 3, 3))
        # tap (2a + r, 2b + q) of the 6x6 -> slot (r, q) (order (0,0), (1,0), (0,1), (1,1)), tap (a, b)
        self.assertEqual(w3[4, 1 * 3 + 2, 2, 0], w6[4, 2, 5, 0])  # slot 1: odd row, even column
        self.assertEqual(w3[4, 2 * 3 + 0, 1, 2], w6[4, 0, 2, 5])  # slot 2: even row, odd column
        want = F.conv2d(x, w6, stride=2, padding=2)
        got = F.conv2d(space_to_depth_tensor(x), w3, padding=1)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-4)

    def test_concat_zeros_only_on_the_spd_part(self):
        w = np.arange(2 * 5, dtype=np.float32).reshape(2, 5, 1, 1) + 1
        out = tp.expand_input_channels(w, [(2, True), (3, False)], 'w')
        self.assertEqual(out.shape, (2, 11, 1, 1))
        np.testing.assert_array_equal(out[:, :2], w[:, :2])
        np.testing.assert_array_equal(out[:, 2:8], 0)
        np.testing.assert_array_equal(out[:, 8:], w[:, 2:])


class RandomYolov5sTest(TransplantTestBase):
    """A standard YOLOv5s with random weights and BatchNorm statistics (nothing trained hides a
    misplaced weight), transplanted in-process."""

    @classmethod
    def setUpClass(cls):
        cls.tmp_class = tempfile.TemporaryDirectory(prefix='spdinfer-transplant-s-')
        cls.source = Path(cls.tmp_class.name) / 'yolov5s.safetensors'
        write_random_model('yolov5s', str(cls.source), seed=3)
        cls.tensors, cls.meta = read_safetensors(cls.source)
        cls.new_tensors, cls.new_meta = tp.transplant(cls.tensors, cls.meta)

    @classmethod
    def tearDownClass(cls):
        cls.tmp_class.cleanup()

    def test_maps_onto_space_depth_s(self):
        arch = json.loads(self.new_meta['architecture'])
        want = space_depth_config('s')
        self.assertEqual(layers_of(arch, want), layers_of(want, want))
        self.assertEqual(arch['stride'], [8, 16, 32])
        # P4 head input: Concat(SPD of 128 channels, layer 14's 128) -> C3 cv1 reads 4 x 128 + 128.
        w = self.new_tensors['model.25.cv1.conv.weight']
        self.assertEqual(w.shape[1], 4 * 128 + 128)
        np.testing.assert_array_equal(w[:, :128], self.tensors['model.20.cv1.conv.weight'][:, :128])
        np.testing.assert_array_equal(w[:, 128:512], 0)
        np.testing.assert_array_equal(w[:, 512:], self.tensors['model.20.cv1.conv.weight'][:, 128:])
        for level in range(3):
            np.testing.assert_array_equal(self.new_tensors[f'model.30.m.{level}.weight'],
                                          self.tensors[f'model.24.m.{level}.weight'])
        np.testing.assert_array_equal(self.new_tensors['model.30.anchors'], self.tensors['model.24.anchors'])

    def test_pytorch_outputs_equal(self):
        err = tp.verify(self.tensors, self.meta, self.new_tensors, self.new_meta, shape=(2, 3, 128, 160))
        self.assertLessEqual(err, RTOL)

    def test_input_size_must_be_a_multiple_of_the_largest_stride(self):
        meta = dict(self.meta)
        meta['preprocess'] = json.dumps(dict(json.loads(meta['preprocess']), input_size=[640, 600]))
        with self.assertRaisesRegex(tp.TransplantError, r'input size \[640, 600\] is not a multiple of 32'):
            tp.transplant(self.tensors, meta)

    def test_engine_outputs_equal(self):
        spd = self.dir / 'spd_s.safetensors'
        write_safetensors(spd, self.new_tensors, self.new_meta)
        x = np.random.default_rng(4).random((1, 3, 128, 160), dtype=np.float32)
        want = self.engine_output(self.source, x, 'source')
        self.assertLessEqual(rel_err(self.engine_output(spd, x, 'spd'), want), RTOL)


class RefusalTest(TransplantTestBase):

    def refused(self, arch, fragment):
        with self.assertRaises(tp.TransplantError) as caught:
            tp.map_architecture(arch)
        self.assertIn(fragment, str(caught.exception))
        return str(caught.exception)

    def test_unmappable_layers_are_named(self):
        arch = yolov5_config('n')
        arch['backbone'][0] = [-1, 1, 'Focus', [64, 3]]  # the v5.0 stem
        self.refused(arch, 'layer 0 (Focus')
        arch = yolov5_config('n')
        arch['backbone'][3] = [-1, 1, 'Conv', [256, 5, 2]]
        self.refused(arch, 'layer 3 (Conv [256, 5, 2])')
        arch = yolov5_config('n')
        arch['head'][8] = [-1, 1, 'Conv', [256, 3, 2, 0]]
        self.refused(arch, 'layer 18 (Conv [256, 3, 2, 0])')
        arch = yolov5_config('n')
        arch['backbone'][9] = [-1, 1, 'nn.MaxPool2d', [2, 2]]
        self.refused(arch, "layer 9 (nn.MaxPool2d [2, 2]): module 'nn.MaxPool2d'")

    def test_cli_refuses_a_5x5_strided_conv_naming_the_layer(self):
        arch = yolov5_config('n')
        arch['backbone'][1] = [-1, 1, 'Conv', [128, 5, 2]]
        torch.manual_seed(0)
        model = randomize_batchnorm(build_yolov5(copy.deepcopy(arch)), 0)
        torch.save(model.state_dict(), self.dir / 'odd.pt')
        (self.dir / 'odd.yaml').write_text(json.dumps(arch))
        convert(str(self.dir / 'odd.pt'), str(self.dir / 'odd.safetensors'), yaml_path=str(self.dir / 'odd.yaml'))
        result = run_transplant(self.dir / 'odd.safetensors', '-o', self.dir / 'out')
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn('transplant: error: ', lines[0])
        self.assertIn('layer 1 (Conv [128, 5, 2])', lines[0])
        self.assertEqual(list(self.dir.glob('out*')), [], 'no output on error')

    def test_bottleneck_reading_spd_is_refused(self):
        arch = yolov5_config('n')
        arch['backbone'][2] = [-1, 1, 'Bottleneck', [32]]
        new_arch, plan = tp.map_architecture(arch)
        torch.manual_seed(0)
        tensors = {k: v.numpy() for k, v in build_yolov5(arch).state_dict().items()
                   if not k.endswith('num_batches_tracked')}
        with self.assertRaisesRegex(tp.TransplantError, r'layer 2 \(Bottleneck\) reads an SPD output'):
            tp.map_weights(arch, plan, tensors)


class RealYolov5nTest(TransplantTestBase):
    """The shared YOLOv5n: the CLI's outputs, PyTorch and the engine on both model files."""

    @classmethod
    def setUpClass(cls):
        cls.checkpoint = shared_file('weights/yolov5n.pt')  # skips the class without ../shared
        cls.tmp_class = tempfile.TemporaryDirectory(prefix='spdinfer-transplant-n-')
        cls.work = Path(cls.tmp_class.name)
        cls.transplant_result = run_transplant(cls.checkpoint, '-o', cls.work / 'spd_n')
        cls.source_model = cls.work / 'yolov5n.safetensors'
        cls.convert_result = run_convert(cls.checkpoint, '-o', cls.source_model)

    @classmethod
    def tearDownClass(cls):
        cls.tmp_class.cleanup()

    def setUp(self):
        super().setUp()
        self.assertEqual(self.transplant_result.returncode, 0, self.transplant_result.stderr)
        self.assertEqual(self.convert_result.returncode, 0, self.convert_result.stderr)
        self.spd_model = self.work / 'spd_n.safetensors'

    def test_metadata_and_architecture(self):
        _, meta = read_safetensors(self.spd_model)
        _, source_meta = read_safetensors(self.source_model)
        for key in ('format', 'format_version', 'family', 'preprocess', 'class_names', 'source_sha256',
                    'source_name'):
            self.assertEqual(meta[key], source_meta[key], key)
        arch = json.loads(meta['architecture'])
        self.assertEqual(arch, dict(space_depth_config('n'), stride=[8, 16, 32]))
        self.assertEqual(arch['stride'], [8, 16, 32])

    def test_pytorch_and_engine_outputs_equal_the_source(self):
        x = torch.rand((1, 3, 256, 320), generator=torch.Generator().manual_seed(5))
        old, _ = model_from_tensors(*read_safetensors(self.source_model))
        new, _ = model_from_tensors(*read_safetensors(self.spd_model))
        with torch.no_grad():
            want, got = old(x)[0].numpy(), new(x)[0].numpy()
        self.assertEqual(got.shape, (1, 5040, 85))
        torch_err = rel_err(got, want)
        self.assertLessEqual(torch_err, RTOL)
        engine_source = self.engine_output(self.source_model, x.numpy(), 'source')
        engine_spd = self.engine_output(self.spd_model, x.numpy(), 'spd')
        self.assertLessEqual(rel_err(engine_spd, engine_source), RTOL)
        self.assertLessEqual(rel_err(engine_spd, want), RTOL)
        print(f'\n  yolov5n -> space_depth_n, 1x3x256x320: PyTorch {torch_err:.2e}, engine '
              f'{rel_err(engine_spd, engine_source):.2e} relative', file=sys.stderr)

    def test_training_checkpoint_and_converter_input(self):
        ckpt = torch.load(self.work / 'spd_n.pt')
        self.assertEqual(sorted(ckpt), ['names', 'state_dict', 'yaml'])
        model = build_yolov5(ckpt['yaml'])
        model.load_state_dict(ckpt['state_dict'], strict=True)
        self.assertEqual(ckpt['names'][0], 'person')
        # The converter takes that checkpoint and writes the same tensors.
        converted = self.dir / 'converted.safetensors'
        result = run_convert(self.work / 'spd_n.pt', '-o', converted)
        self.assertEqual(result.returncode, 0, result.stderr)
        got, got_meta = read_safetensors(converted)
        want, want_meta = read_safetensors(self.spd_model)
        self.assertEqual(list(got), list(want))
        for name in want:
            np.testing.assert_array_equal(got[name], want[name], name)
        self.assertEqual(got_meta['class_names'], want_meta['class_names'])
        self.assertEqual(json.loads(got_meta['architecture']), json.loads(want_meta['architecture']))

    def test_detect_on_the_shared_photos_matches_the_source(self):
        images = [shared_file('images/bus.jpg'), shared_file('images/zidane.jpg')]
        if 'detect' not in run(cli(), '--help').stdout:
            self.skipTest(f'{cli()} has no `detect` command')
        results = {}
        for name, model in (('source', self.source_model), ('spd', self.spd_model)):
            result = run(cli(), 'detect', model, *images, '--json', '--nosave', '--threads', '2')
            self.assertEqual(result.returncode, 0, result.stderr)
            results[name] = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        self.assertEqual(len(results['spd']), 2)
        for src, spd in zip(results['source'], results['spd']):
            self.assertEqual(src['image'], spd['image'])
            self.assertGreater(len(src['detections']), 0, src['image'])
            self.assertEqual(len(spd['detections']), len(src['detections']), src['image'])
            for a, b in zip(src['detections'], spd['detections']):
                self.assertEqual(a['class_id'], b['class_id'], src['image'])
                self.assertLessEqual(np.abs(np.subtract(a['box'], b['box'])).max(), 1.0, (a, b))
                self.assertLessEqual(abs(a['confidence'] - b['confidence']), 0.01, (a, b))


if __name__ == '__main__':
    unittest.main()
