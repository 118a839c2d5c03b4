"""`spdinfer val --out DIR` draws YOLOv5 val.py's figures, and `bench --per-layer --plot FILE`
its bar chart of where the time goes.

What it is: val of the bundled detector (assets/scenes_spd_yolov5n.safetensors) on 40 generated
test scenes (weights_tools.train.synth_scenes, seed 0, as test_bundled_detector_map.py makes them);
every figure must be a PNG that decodes, of a sensible size and not blank; the data behind them
(DIR/val_curves.json) must agree with what val reports: the PR curve's mean is each class's AP50
and their mean the printed mAP@0.5, the recall curve ends where the PR curve does, F1 is 2PR/(P+R),
and the confusion matrix counts every labelled object once. Errors (no matplotlib, no Python,
--plots without --out, a classifier) are one line with exit status 2.
What it is not: a check of AP itself (test_detection_val.py) or of the pictures' looks.
"""

import json
import os
import subprocess
import tempfile
import unittest

from tests.python.cli_support import CliErrorAssertions, cli, run
from tests.python.helpers import REPO

MODEL = REPO / 'assets' / 'scenes_spd_yolov5n.safetensors'
CLASSIFIER = REPO / 'assets' / 'fashion_resnet_spd.safetensors'
DATA = '/usr/share/datasets/fashion-mnist'
SCENES = 40
FIGURES = ('PR_curve.png', 'F1_curve.png', 'P_curve.png', 'R_curve.png', 'confusion_matrix.png')
PYTHON = '/usr/bin/python3'


def need_plotting():
    if not os.path.exists(os.path.join(DATA, 't10k-images-idx3-ubyte.gz')):
        raise unittest.SkipTest(f"needs Debian's dataset-fashion-mnist in {DATA} (scripts/bootstrap installs it)")
    if subprocess.run([PYTHON, '-c', 'import matplotlib'], capture_output=True).returncode != 0:
        raise unittest.SkipTest(f"needs matplotlib for {PYTHON} (Debian's python3-matplotlib; scripts/bootstrap)")


def generate_scenes(root):
    """SCENES test scenes and 2 val scenes as the bundled detector was trained on; the dataset.json."""
    from weights_tools.train.synth_scenes import PRESETS, generate
    generate(root, {'train': 0, 'val': 2, 'test': SCENES}, PRESETS['small'], seed=0, log=lambda _: None)
    return os.path.join(root, 'dataset.json')


def run_env(env, *args):
    return subprocess.run([str(a) for a in args], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, **env))


def check_png(test, path, min_width, min_height):
    """A PNG that decodes, at least this large, and not one colour."""
    from PIL import Image
    with Image.open(path) as image:
        test.assertEqual(image.format, 'PNG', path)
        image.load()
        width, height = image.size
        test.assertGreaterEqual(width, min_width, path)
        test.assertGreaterEqual(height, min_height, path)
        grey = image.convert('L')
        histogram = grey.histogram()
        # Mostly white background, but lines, text and fills make up a real share of the pixels.
        test.assertLess(max(histogram), 0.98 * width * height, f'{path} is nearly blank')
        test.assertGreater(sum(1 for n in histogram if n), 20, f'{path} has too few grey levels')


class ValPlotsTest(unittest.TestCase, CliErrorAssertions):
    @classmethod
    def setUpClass(cls):
        need_plotting()
        cls.tmp = tempfile.TemporaryDirectory(prefix='spdinfer-valplots-')
        cls.dataset = generate_scenes(os.path.join(cls.tmp.name, 'data'))
        cls.out = os.path.join(cls.tmp.name, 'figures')
        done = run(cli(), 'val', MODEL, cls.dataset, '--split', 'test', '--out', cls.out, '--json', '--threads', '2')
        if done.returncode != 0:
            raise AssertionError(done.stderr)
        cls.stderr = done.stderr
        cls.result = json.loads(done.stdout)
        with open(os.path.join(cls.out, 'val_curves.json')) as f:
            cls.curves = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_figure_is_a_png_with_content(self):
        self.assertEqual(self.result['figures'], [os.path.join(self.out, name) for name in FIGURES])
        for name in FIGURES:
            with self.subTest(figure=name):
                check_png(self, os.path.join(self.out, name), 1000, 700)
        self.assertIn(f'Figures: {self.out}', self.stderr)

    def test_pr_curve_is_what_val_reports(self):
        c = self.curves
        self.assertEqual(len(c['recall']), 101)
        self.assertEqual((c['recall'][0], c['recall'][-1]), (0, 1))
        with_objects = [i for i, n in enumerate(c['objects']) if n > 0]
        self.assertGreaterEqual(len(with_objects), 5, 'the test scenes hold objects of most classes')
        for i, reported in enumerate(self.result['per_class']):
            self.assertEqual(c['objects'][i], reported['objects'])
            if reported['ap50'] is None:
                continue
            with self.subTest(cls=reported['class_name']):
                self.assertAlmostEqual(sum(c['precision'][i]) / 101, reported['ap50'], delta=1e-5)
        mean = sum(sum(c['precision'][i]) / 101 for i in with_objects) / len(with_objects)
        self.assertAlmostEqual(mean, self.result['map50'], delta=1e-5)
        self.assertGreater(self.result['map50'], 0.05, 'the bundled detector finds something')

    def test_confidence_curves_are_consistent(self):
        c = self.curves
        self.assertEqual(len(c['confidence']), 1000)
        for i, n in enumerate(c['objects']):
            if not n:
                continue
            p, r, f1 = c['p'][i], c['r'][i], c['f1'][i]
            with self.subTest(cls=c['classes'][i]):
                # Recall can only fall as the threshold rises; at threshold 0 it is the PR curve's end.
                self.assertTrue(all(a >= b - 1e-9 for a, b in zip(r, r[1:])))
                reached = max((c['recall'][k] for k, v in enumerate(c['precision'][i]) if v > 0), default=0)
                self.assertGreaterEqual(r[0] + 1e-6, reached)
                self.assertLess(r[0], reached + 0.01 + 1e-6)
                for k in range(0, 1000, 37):
                    self.assertAlmostEqual(f1[k], 2 * p[k] * r[k] / (p[k] + r[k] + 1e-16), delta=1e-5)
                self.assertEqual((p[-1], r[-1]), (1, 0), 'above every score: precision 1, recall 0')

    def test_confusion_matrix_counts_every_object_once(self):
        counts = self.curves['confusion']['counts']
        nc = len(self.curves['classes'])
        self.assertEqual(len(counts), nc + 1)
        for true_class in range(nc):
            with self.subTest(cls=true_class):
                self.assertEqual(sum(row[true_class] for row in counts), self.curves['objects'][true_class])
        self.assertGreater(sum(counts[i][i] for i in range(nc)), 0, 'some objects are found with their class')

    def test_no_plots_and_plots_without_out(self):
        out = os.path.join(self.tmp.name, 'no-plots')
        done = run(cli(), 'val', MODEL, self.dataset, '--split', 'val', '--out', out, '--no-plots')
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, 'PR_curve.png')))
        self.assertOneLineError(run(cli(), 'val', MODEL, self.dataset, '--split', 'val', '--plots'), '--out')
        self.assertOneLineError(run(cli(), 'val', CLASSIFIER, self.dataset, '--out', out), '--out is for detectors')

    def test_missing_matplotlib_or_python_is_one_line(self):
        fake = os.path.join(self.tmp.name, 'fake-site', 'matplotlib')
        os.makedirs(fake, exist_ok=True)
        with open(os.path.join(fake, '__init__.py'), 'w') as f:
            f.write("raise ImportError(\"No module named 'matplotlib'\")\n")
        out = os.path.join(self.tmp.name, 'no-matplotlib')
        done = run_env({'SPDINFER_PYTHON': PYTHON, 'PYTHONPATH': os.path.dirname(fake)},
                       cli(), 'val', MODEL, self.dataset, '--split', 'val', '--out', out)
        self.assertOneLineError(done, out, 'matplotlib', 'apt-get install python3-matplotlib')
        missing = os.path.join(self.tmp.name, 'no-such-python')
        done = run_env({'SPDINFER_PYTHON': missing}, cli(), 'val', MODEL, self.dataset, '--split', 'val',
                       '--out', out)
        self.assertOneLineError(done, out, f'cannot run {missing}')

    def test_no_objects_draws_nothing_and_says_so(self):
        empty = os.path.join(self.tmp.name, 'empty')
        os.makedirs(os.path.join(empty, 'images'))
        os.makedirs(os.path.join(empty, 'labels'))
        val_images = os.path.join(os.path.dirname(self.dataset), 'images', 'val')
        first = sorted(os.listdir(val_images))[0]
        os.link(os.path.join(val_images, first), os.path.join(empty, 'images', first))
        open(os.path.join(empty, 'labels', os.path.splitext(first)[0] + '.txt'), 'w').close()
        out = os.path.join(self.tmp.name, 'empty-figures')
        done = run(cli(), 'val', MODEL, os.path.join(empty, 'images'), '--out', out, '--json')
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)['figures'], [])
        self.assertIn('no labelled objects in the split; no figures drawn', done.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, 'PR_curve.png')))

    def test_unwritable_out_is_one_line(self):
        blocker = os.path.join(self.tmp.name, 'a-file')
        open(blocker, 'w').close()
        self.assertOneLineError(run(cli(), 'val', MODEL, self.dataset, '--split', 'val', '--out', blocker), blocker)


class BenchPlotTest(unittest.TestCase, CliErrorAssertions):
    def test_per_layer_plot_is_a_bar_chart_png(self):
        need_plotting()
        with tempfile.TemporaryDirectory(prefix='spdinfer-benchplot-') as tmp:
            png = os.path.join(tmp, 'layers.png')
            done = run(cli(), 'bench', MODEL, '--per-layer', '--plot', png, '--runs', '2', '--warmup', '0')
            self.assertEqual(done.returncode, 0, done.stderr)
            check_png(self, png, 1000, 800)  # 25 bars

    def test_plot_errors(self):
        self.assertOneLineError(run(cli(), 'bench', MODEL, '--plot', '/tmp/x.png'), '--per-layer')
        self.assertOneLineError(run(cli(), 'bench', MODEL, '--per-layer', '--plot', '/tmp/x.jpg', '--runs', '1'),
                                '/tmp/x.jpg', '.png')


if __name__ == '__main__':
    unittest.main()
