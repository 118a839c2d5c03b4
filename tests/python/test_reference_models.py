"""Tests of weights_tools.reference (the PyTorch model definitions) and weights_tools.reference.dump_golden.

What they prove: the state_dict names/shapes equal the reference code's key listings, and the
SPD-YOLOv5n built here reproduces the outputs the upstream SPD-Conv code computed for the same
checkpoint (shared/reference/spd_yolov5n_random_io.npz) to 1e-4 relative error (max abs error /
max abs value). Tests that read ../shared skip with a message when it is absent.
Run from the repo root: /usr/bin/python3 -m unittest -v tests.python.test_reference_models
"""

import ast
import json
import os
import tempfile
import unittest

import numpy as np
import torch

from weights_tools.convert import convert
from weights_tools.convert.safetensors_io import read_safetensors, write_safetensors
from weights_tools.reference import (build_resnet_spd, build_yolov5, dump_golden, load, load_model, resnet_spd,
                                     resnet_spd_architecture)
from weights_tools.reference.common import space_to_depth_tensor
from weights_tools.reference.configs import yolov5_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(REPO), 'shared')
REFERENCE = os.path.join(SHARED, 'reference')
SPD_PT = os.path.join(REFERENCE, 'spd_yolov5n_random.pt')
SPD_NPZ = os.path.join(REFERENCE, 'spd_yolov5n_random_io.npz')
YOLOV5N_PT = os.path.join(SHARED, 'weights', 'yolov5n.pt')

needs_shared = unittest.skipUnless(os.path.isdir(REFERENCE),
                                   f'{SHARED} is absent: reference data tests skipped (it sits beside the checkout '
                                   'in development and CI only)')

REL_TOL = 1e-4  # max abs error / max abs value, fp32 against the upstream code's fp32

# Standard YOLOv5s v6.0+ (models/yolov5s.yaml) as the dict yaml.safe_load gives.
YOLOV5S = {k: v for k, v in yolov5_config('s').items() if k != 'ch'}


def read_key_listing(name):
    """(names and shapes, yaml dict or None) from shared/reference/<name>.keys.txt."""
    keys, yaml = [], None
    with open(os.path.join(REFERENCE, name + '.keys.txt')) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith('# model.yaml'):
            yaml = ast.literal_eval(lines[i + 1])
            break
        if line.startswith('#') or not line.strip():
            continue
        key, shape = line.split(' ', 1)
        keys.append((key, tuple(ast.literal_eval(shape))))
    return keys, yaml


def state_listing(model):
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def rel_err(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


def model_file(path, model, family, arch, preprocess):
    """Write `model` as a spdinfer model file (float tensors only, as the converter stores them)."""
    tensors = {k: v.detach().float().numpy() for k, v in model.state_dict().items() if v.is_floating_point()}
    meta = {'format': 'spdinfer', 'format_version': '1', 'family': family, 'architecture': json.dumps(arch),
            'preprocess': json.dumps(preprocess), 'class_names': json.dumps([]), 'source_sha256': '',
            'source_name': 'test'}
    write_safetensors(path, tensors, meta)


class SpaceToDepthTest(unittest.TestCase):
    def test_channel_block_order(self):
        # channel block k of the output holds the pixels at (row, col) offsets (0,0), (1,0), (0,1), (1,1)
        x = torch.arange(2 * 4 * 6, dtype=torch.float32).view(1, 2, 4, 6)
        y = space_to_depth_tensor(x)
        self.assertEqual(tuple(y.shape), (1, 8, 2, 3))
        for k, (dr, dc) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
            torch.testing.assert_close(y[:, 2 * k:2 * k + 2], x[:, :, dr::2, dc::2])


class ResNetSPDTest(unittest.TestCase):
    @needs_shared
    def test_key_listings(self):
        for name, nc in (('resnet18_spd_tinyimagenet', 200), ('resnet50_spd_cifar', 100)):
            with self.subTest(name=name):
                want, _ = read_key_listing(name)
                self.assertEqual(state_listing(resnet_spd('bottleneck', [3, 4, 6, 3], nc)), want)

    def test_variants_run(self):
        cases = [('bottleneck', [3, 4, 6, 3], 16, True), ('basic', [2, 2, 2, 2], 16, True),
                 ('basic', [1, 1, 1, 1], 8, False), ('bottleneck', [1, 1, 1], 8, True)]
        for block, layers, width, spd in cases:
            with self.subTest(block=block, layers=layers, width=width, spd=spd):
                model = resnet_spd(block, layers, num_classes=10, base_width=width, spd=spd)
                with torch.no_grad():
                    self.assertEqual(tuple(model(torch.rand(2, 3, 32, 32)).shape), (2, 10))

    def test_basic_stride2_layout(self):
        sd = resnet_spd('basic', [2, 2, 2, 2], 200).state_dict()
        self.assertEqual(tuple(sd['conv3_x.0.residual_function.2.weight'].shape), (512,))  # BN after SPD: 4*128
        self.assertEqual(tuple(sd['conv3_x.0.residual_function.4.weight'].shape), (128, 512, 3, 3))
        self.assertEqual(tuple(sd['conv3_x.1.residual_function.3.weight'].shape), (128, 128, 3, 3))
        self.assertNotIn('conv2_x.0.shortcut.0.weight', sd)  # 64 -> 64, stride 1: identity
        self.assertEqual(tuple(sd['fc.weight'].shape), (200, 512))

    def test_state_dict_checkpoint_round_trip(self):
        # torch.save(net.state_dict()) as the reference saves it -> converter -> load_model
        for block, layers in (('basic', [2, 2, 2, 2]), ('bottleneck', [1, 2, 1, 1])):
            with self.subTest(block=block):
                model = resnet_spd(block, layers, num_classes=10, base_width=16)
                torch.manual_seed(0)
                with torch.no_grad():  # non-trivial BatchNorm statistics, so they must load
                    for name, t in model.state_dict().items():
                        if name.endswith(('running_mean', 'running_var')):
                            t.copy_(torch.rand_like(t) + 0.5)
                with tempfile.TemporaryDirectory() as tmp:
                    path = os.path.join(tmp, 'net.pth')
                    torch.save(model.state_dict(), path)
                    loaded, meta = load(path)
                self.assertEqual(meta['family'], 'resnet_spd')
                x = torch.rand(2, 3, 32, 32)
                with torch.no_grad():
                    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)

    def test_architecture_errors(self):
        arch = resnet_spd_architecture('basic', [1, 1], 10, 8)
        with self.assertRaisesRegex(ValueError, 'expansion'):
            build_resnet_spd(dict(arch, expansion=4))
        with self.assertRaisesRegex(ValueError, 'missing keys'):
            build_resnet_spd({'block': 'basic'})


class YOLOv5Test(unittest.TestCase):
    @needs_shared
    def test_spd_key_listing(self):
        want, yaml = read_key_listing('spd_yolov5n_random')
        self.assertEqual(state_listing(build_yolov5(yaml)), want)

    def test_yolov5s_yaml(self):
        model = build_yolov5(YOLOV5S)  # no 'stride' key: measured as upstream does
        self.assertEqual(model.stride.tolist(), [8.0, 16.0, 32.0])
        sd = model.state_dict()
        self.assertEqual(tuple(sd['model.0.conv.weight'].shape), (32, 3, 6, 6))
        self.assertEqual(tuple(sd['model.2.m.0.cv2.conv.weight'].shape), (32, 32, 3, 3))
        self.assertEqual(tuple(sd['model.9.cv2.conv.weight'].shape), (512, 1024, 1, 1))
        self.assertEqual(tuple(sd['model.24.m.2.weight'].shape), (255, 512, 1, 1))
        torch.testing.assert_close(sd['model.24.anchors'][0, 0], torch.tensor([10 / 8, 13 / 8]))
        self.assertEqual(len([k for k in sd if k.startswith('model.6.m.') and k.endswith('cv1.conv.weight')]), 3)
        with torch.no_grad():
            out, raw = model(torch.rand(1, 3, 128, 160))
        self.assertEqual(tuple(out.shape), (1, 3 * (16 * 20 + 8 * 10 + 4 * 5), 85))
        self.assertEqual([tuple(r.shape) for r in raw], [(1, 3, 16, 20, 85), (1, 3, 8, 10, 85), (1, 3, 4, 5, 85)])

    def test_unknown_module(self):
        bad = dict(YOLOV5S, backbone=[[-1, 1, 'GhostConv', [64, 3]]] + YOLOV5S['backbone'][1:])
        with self.assertRaisesRegex(ValueError, "layer 0: unknown module 'GhostConv'"):
            build_yolov5(bad)

    @needs_shared
    def test_reproduces_reference_outputs(self):
        # the checkpoint's `ema` is None, so these are the `model` weights (fp16, widened to fp32)
        model = load_model(SPD_PT)
        io = np.load(SPD_NPZ)
        with torch.no_grad():
            out, raw = model(torch.from_numpy(io['input']))
        errors = {'output': rel_err(out.numpy(), io['output'])}
        for level, name in enumerate(('p3', 'p4', 'p5')):
            errors[name] = rel_err(raw[level].numpy(), io[name])
        for name, err in errors.items():
            self.assertLess(err, REL_TOL, f'{name}: relative error {err:.3g} (all: {errors})')

    @needs_shared
    def test_converted_model_file(self):
        # the same numbers through the .safetensors model file the converter writes
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'spd.safetensors')
            convert(SPD_PT, path)
            model = load_model(path)
        io = np.load(SPD_NPZ)
        with torch.no_grad():
            out = model(torch.from_numpy(io['input']))[0]
        self.assertLess(rel_err(out.numpy(), io['output']), REL_TOL)

    @unittest.skipUnless(os.path.isfile(YOLOV5N_PT), f'{YOLOV5N_PT} is absent')
    def test_standard_yolov5n_checkpoint_loads(self):
        model = load_model(YOLOV5N_PT)  # strict load of a real v7.0 checkpoint
        self.assertEqual(model.stride.tolist(), [8.0, 16.0, 32.0])
        with torch.no_grad():
            out, _ = model(torch.rand(1, 3, 64, 64))
        self.assertEqual(tuple(out.shape), (1, 3 * (8 * 8 + 4 * 4 + 2 * 2), 85))


class DumpGoldenTest(unittest.TestCase):
    def run_dump(self, model_path, extra, out_dir):
        out = os.path.join(out_dir, 'golden.safetensors')
        self.assertEqual(dump_golden.main([model_path, '-o', out] + extra), 0)
        tensors, meta = read_safetensors(out)
        self.assertEqual(meta['format'], 'spdinfer-golden')
        self.assertEqual(meta['format_version'], '2')
        layers = json.loads(meta['layers'])
        self.assertEqual(list(tensors), ['input'] + layers)
        return tensors, layers

    @staticmethod
    def resnet_file(tmp, block, layers):
        """A small random ResNet-SPD written as a model file in `tmp`: (path, torch model)."""
        arch = resnet_spd_architecture(block, layers, 10, 8)
        model = build_resnet_spd(arch)
        path = os.path.join(tmp, 'r.safetensors')
        preprocess = {'input_size': [32, 32], 'scale': 1 / 255, 'mean': [0.5] * 3, 'std': [0.25] * 3,
                      'color': 'rgb', 'resize': 'resize'}
        model_file(path, model, 'resnet_spd', arch, preprocess)
        return path, model

    def test_resnet_layers(self):
        with tempfile.TemporaryDirectory() as tmp:
            path, model = self.resnet_file(tmp, 'bottleneck', [2, 1, 1, 1])
            tensors, layers = self.run_dump(path, ['--random', '3'], tmp)
        expected = ['conv1.conv', 'conv1',
                    'conv2_x.0.residual_function', 'conv2_x.0.shortcut', 'conv2_x.0',
                    'conv2_x.1.residual_function', 'conv2_x.1']
        for stage in ('conv3_x', 'conv4_x', 'conv5_x'):
            expected += [f'{stage}.0.residual_function', f'{stage}.0.shortcut', f'{stage}.0']
        expected += ['avg_pool', 'fc']
        self.assertEqual(layers, expected)
        self.assertEqual(tensors['input'].shape, (1, 3, 32, 32))
        with torch.no_grad():
            want = model(torch.from_numpy(tensors['input']))
        np.testing.assert_allclose(tensors['fc'], want.numpy(), rtol=1e-5, atol=1e-6)

    def test_float64_truth(self):
        """--float64 stores each layer's float64 run as f64.hi/ + f64.lo/, which sum to the float64
        result of the same model, and which the fp32 outputs are close to, not equal to."""
        with tempfile.TemporaryDirectory() as tmp:
            path, model = self.resnet_file(tmp, 'basic', [1, 1, 1, 1])
            out = os.path.join(tmp, 'golden.safetensors')
            self.assertEqual(dump_golden.main([path, '--random', '3', '--float64', '-o', out]), 0)
            tensors, meta = read_safetensors(out)
        self.assertEqual(meta['float64'], 'hi+lo')
        layers = json.loads(meta['layers'])
        self.assertEqual(sorted(tensors), sorted(['input'] + layers + [dump_golden.F64_HI + n for n in layers]
                                                 + [dump_golden.F64_LO + n for n in layers]))
        with torch.no_grad():
            want = model.double()(torch.from_numpy(tensors['input']).double()).numpy()
        got = dump_golden.join_float64(tensors['f64.hi/fc'], tensors['f64.lo/fc'])
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
        self.assertTrue(np.any(got != tensors['fc'].astype(np.float64)))
        np.testing.assert_allclose(tensors['fc'], got, rtol=1e-5, atol=1e-6)

    def test_split_float64(self):
        a = np.array([1 / 3, -2.0 ** 40 / 7, 1e-30, 0.0, np.pi * 1e5])
        hi, lo = dump_golden.split_float64(a)
        self.assertEqual((hi.dtype, lo.dtype), (np.float32, np.float32))
        np.testing.assert_allclose(dump_golden.join_float64(hi, lo), a, rtol=2.0 ** -46, atol=0)

    def test_preprocess_letterbox(self):
        img = np.full((30, 60, 3), 200, np.uint8)
        preset = {'input_size': [64, 64], 'scale': 1 / 255, 'mean': [0, 0, 0], 'std': [1, 1, 1], 'resize': 'letterbox'}
        x = dump_golden.preprocess(img, preset)
        self.assertEqual(tuple(x.shape), (1, 3, 64, 64))
        self.assertAlmostEqual(float(x[0, 0, 0, 0]), 114 / 255, places=6)  # grey padding above
        self.assertAlmostEqual(float(x[0, 0, 32, 32]), 200 / 255, places=6)

    @needs_shared
    def test_spd_yolov5n_layers(self):
        with tempfile.TemporaryDirectory() as tmp:
            npy = os.path.join(tmp, 'x.npy')
            x = np.random.default_rng(0).random((1, 3, 64, 96), dtype=np.float32)
            np.save(npy, x)
            tensors, layers = self.run_dump(SPD_PT, ['--input', npy], tmp)
        top = [name for name in layers if name.count('.') == 1]
        self.assertEqual(top, [f'model.{i}' for i in range(31)])
        for name in ('model.0.conv', 'model.3.cv1', 'model.3.m.0', 'model.3.m.0.cv2', 'model.13.cv2',
                     'model.30.m.0', 'model.30.m.2'):
            self.assertIn(name, layers)
        self.assertEqual(tensors['model.30'].shape, (1, 3 * (8 * 12 + 4 * 6 + 2 * 3), 85))
        self.assertEqual(tensors['model.30.m.0'].shape, (1, 255, 8, 12))
        self.assertEqual(tensors['model.2'].shape, (1, 128, 16, 24))  # space_to_depth of (32, 32, 48)
        model = load_model(SPD_PT)
        with torch.no_grad():
            want = model(torch.from_numpy(x))[0].numpy()
        np.testing.assert_allclose(tensors['model.30'], want, rtol=1e-5, atol=1e-4)


if __name__ == '__main__':
    unittest.main()
