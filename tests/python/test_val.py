"""`spdinfer val` and the bundled Fashion-MNIST model against PyTorch.

What it is: the bundled model (assets/fashion_resnet_spd.safetensors) run by the project's PyTorch
reference (weights_tools.reference.load) on the 10,000 Fashion-MNIST test images, prepared by the
training code's own functions (weights_tools.train.classifier: pad to 32x32, replicate to RGB,
normalise with the model file's preset), versus `spdinfer val --json --predictions` reading the
Debian idx files itself: the accuracies must agree (to 0.1%, i.e. a prediction that flips on a
near-tie) and at least 99.9% of the individual predictions must be equal. The model must reach
its documented 93.4%. Also: the bundled PNGs are the padded test images and classify correctly
(in PyTorch, and in the engine through val's class-folder mode), and val's errors.
What it is not: a test of training (docs/experiments.md). Tests needing Debian's
dataset-fashion-mnist (installed by scripts/bootstrap) skip with a message when it is absent.
"""

import json
import re
import tempfile
import unittest
from pathlib import Path

import numpy as np

from tests.python.cli_support import CliErrorAssertions, cli, run
from tests.python.helpers import REPO

MODEL = REPO / 'assets' / 'fashion_resnet_spd.safetensors'
SAMPLES = REPO / 'assets' / 'fashion_mnist'
DATA = Path('/usr/share/datasets/fashion-mnist')
TEST_IMAGES = DATA / 't10k-images-idx3-ubyte.gz'
MIN_TOP1 = 0.934  # the bundled model: 93.47% (the target was 93.5%; see assets/README.md)


def need_dataset():
    if not TEST_IMAGES.exists():
        raise unittest.SkipTest(f'needs Debian\'s dataset-fashion-mnist ({TEST_IMAGES} absent; scripts/bootstrap '
                                'installs it)')


def sample_label(path):
    """assets/fashion_mnist/t10k_00000_9_ankle-boot.png -> 9 (test image 0, class 9)."""
    return int(re.match(r't10k_(\d+)_(\d+)_[a-z-]+\.png$', path.name).group(2))


class BundledModelTest(unittest.TestCase):
    """PyTorch and the engine on the full test set (the slow part: about a minute each)."""

    @classmethod
    def setUpClass(cls):
        need_dataset()
        import torch
        from weights_tools.reference import load
        from weights_tools.train.classifier import to_network_pixels
        from weights_tools.train.fashion_mnist import load_split
        torch.set_num_threads(2)
        cls.model, cls.meta = load(str(MODEL))
        images, labels = load_split(str(DATA), 't10k')
        cls.labels = labels
        x = cls.normalise(to_network_pixels(images), cls.meta['preprocess'])
        with torch.no_grad():
            logits = torch.cat([cls.model(x[i:i + 500]) for i in range(0, len(x), 500)])
        cls.torch_pred = logits.argmax(1).numpy()
        top5 = logits.topk(5, 1).indices.numpy()
        cls.torch_top1 = float((cls.torch_pred == labels).mean())
        cls.torch_top5 = float((top5 == labels[:, None]).any(1).mean())

    @staticmethod
    def normalise(pixels, pre):
        """What the model file's `preprocess` says, read from the file (not assumed)."""
        import torch
        x = torch.from_numpy(pixels).float() * float(np.float32(pre['scale']))
        mean = torch.tensor(pre['mean'], dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(pre['std'], dtype=torch.float32).view(1, 3, 1, 1)
        return (x - mean) / std

    def test_model_file_describes_training(self):
        from weights_tools.convert import PRESETS
        from weights_tools.train.classifier import PRESET
        from weights_tools.train.fashion_mnist import CLASS_NAMES
        pre = self.meta['preprocess']
        self.assertEqual(pre['input_size'], [32, 32])
        for key in ('scale', 'mean', 'std', 'resize'):
            self.assertEqual(pre[key], PRESETS[PRESET][key], key)
        self.assertEqual(self.meta['class_names'], CLASS_NAMES)
        self.assertEqual(self.meta['architecture']['stage_blocks'], [2, 2, 2, 2])
        self.assertTrue(self.meta['architecture']['spd'])
        self.assertLess(MODEL.stat().st_size, 4 << 20)

    def test_pytorch_accuracy_reaches_the_documented_level(self):
        self.assertGreaterEqual(self.torch_top1, MIN_TOP1)

    def test_engine_val_equals_pytorch(self):
        with tempfile.TemporaryDirectory(prefix='spdinfer-val-') as tmp:
            pred_file = Path(tmp) / 'pred.txt'
            # One thread: about 20 CPU-seconds, and no OpenMP threads spinning on a busy machine.
            done = run(cli(), 'val', MODEL, TEST_IMAGES, '--json', '--batch', '64', '--threads', '1',
                       '--predictions', pred_file, timeout=900)
            self.assertEqual(done.returncode, 0, done.stderr)
            result = json.loads(done.stdout)
            engine_pred = np.loadtxt(pred_file, dtype=np.int64)
        self.assertEqual(result['images'], 10000)
        self.assertEqual(len(engine_pred), 10000)
        agree = float((engine_pred == self.torch_pred).mean())
        msg = (f'engine top-1 {result["top1"]:.4f} top-5 {result["top5"]:.4f}; PyTorch top-1 {self.torch_top1:.4f} '
               f'top-5 {self.torch_top5:.4f}; predictions agree on {agree:.4%}')
        print(msg)
        self.assertGreaterEqual(agree, 0.999, msg)
        self.assertAlmostEqual(result['top1'], self.torch_top1, delta=0.001 + 1e-9, msg=msg)
        self.assertAlmostEqual(result['top5'], self.torch_top5, delta=0.001 + 1e-9, msg=msg)
        self.assertEqual(result['top1_correct'], int((engine_pred == self.labels).sum()), msg)
        self.assertGreaterEqual(result['top1'], MIN_TOP1, msg)
        self.assertEqual(sum(c['images'] for c in result['per_class']), 10000)
        # The table goes to stderr with --json.
        self.assertIn('top-5', done.stderr)


class BundledSamplesTest(unittest.TestCase):
    """The PNGs in assets/ are padded test images the model gets right, in PyTorch and the engine."""

    def samples(self):
        files = sorted(SAMPLES.glob('*.png'))
        self.assertGreaterEqual(len(files), 8)
        return files

    def test_samples_are_the_padded_test_images(self):
        need_dataset()
        from PIL import Image
        from weights_tools.train.classifier import to_network_pixels
        from weights_tools.train.fashion_mnist import load_split
        images, labels = load_split(str(DATA), 't10k')
        for f in self.samples():
            index = int(f.name.split('_')[1])
            png = np.asarray(Image.open(f).convert('RGB')).transpose(2, 0, 1)
            np.testing.assert_array_equal(png, to_network_pixels(images[index:index + 1])[0], f.name)
            self.assertEqual(sample_label(f), labels[index], f.name)

    def test_pytorch_classifies_samples(self):
        import torch
        from PIL import Image
        from weights_tools.reference import load
        model, meta = load(str(MODEL))
        files = self.samples()
        pixels = np.stack([np.asarray(Image.open(f).convert('RGB')).transpose(2, 0, 1) for f in files])
        with torch.no_grad():
            pred = model(BundledModelTest.normalise(pixels, meta['preprocess'])).argmax(1).tolist()
        self.assertEqual(pred, [sample_label(f) for f in files])

    def test_engine_val_on_class_folders_of_the_samples(self):
        from weights_tools.train.fashion_mnist import CLASS_NAMES
        with tempfile.TemporaryDirectory(prefix='spdinfer-val-') as tmp:
            for f in self.samples():
                folder = Path(tmp) / CLASS_NAMES[sample_label(f)].replace('/', '_')
                folder.mkdir(exist_ok=True)
                (folder / f.name).symlink_to(f)
            done = run(cli(), 'val', MODEL, tmp, '--json', '--batch', '4')
        self.assertEqual(done.returncode, 0, done.stderr)
        result = json.loads(done.stdout)
        self.assertEqual(result['images'], len(self.samples()))
        self.assertEqual(result['top1'], 1.0, done.stderr)


class ValErrorsTest(unittest.TestCase, CliErrorAssertions):

    def check_error(self, args, fragment):
        self.assertOneLineError(run(cli(), 'val', *args), fragment)

    def test_missing_dataset(self):
        self.check_error([MODEL, REPO / 'no-such-dataset'], 'no such file or folder')

    def test_folder_without_classes(self):
        with tempfile.TemporaryDirectory(prefix='spdinfer-val-') as tmp:
            self.check_error([MODEL, tmp], 'nothing to validate')

    def test_not_an_idx_file(self):
        with tempfile.TemporaryDirectory(prefix='spdinfer-val-') as tmp:
            images = Path(tmp) / 'x-images-idx3-ubyte'
            images.write_bytes(b'\x89PNG\r\n\x1a\n')
            (Path(tmp) / 'x-labels-idx1-ubyte').write_bytes(b'\x00\x00\x08\x01\x00\x00\x00\x00')
            self.check_error([MODEL, images], 'not an idx file')

    def test_bad_batch(self):
        self.check_error([MODEL, REPO, '--batch', '0'], '--batch')

    def test_detector_on_classification_data(self):
        """val measures detectors too, but on detection datasets (tests/python/test_detection_val.py):
        a detector given the classification idx files is one line naming the file."""
        need_dataset()
        from weights_tools.reference.random_model import write_random_model
        with tempfile.TemporaryDirectory(prefix='spdinfer-val-') as tmp:
            model = Path(tmp) / 'yolo.safetensors'
            write_random_model('yolov5n', str(model))
            self.check_error([model, TEST_IMAGES], str(TEST_IMAGES))


if __name__ == '__main__':
    unittest.main()
