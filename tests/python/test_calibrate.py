"""`spdinfer calibrate` and int8 model files end to end, on the bundled models: the int8 file is
smaller, loads, says int8 in `info`, detects what the fp32 file detects on the demo scene (the same
top boxes, IoU > 0.8), runs as fp32 with `--precision fp32`; the scale table round trip (a deleted
line keeps its node in fp32); and the one-line errors for bad input.

Calibration images are made here: four 320x320 crops of the demo scene, and the demo scene itself.
"""

import json
import shutil
import tempfile
import unittest
from pathlib import Path

from PIL import Image

from tests.python.cli_support import CliErrorAssertions, cli, edited_model, run
from tests.python.helpers import REPO

DETECTOR = REPO / 'assets' / 'scenes_spd_yolov5n.safetensors'
SCENE = REPO / 'assets' / 'scenes' / 'demo_scene.jpg'
CLASSIFIER = REPO / 'assets' / 'fashion_resnet_spd.safetensors'
FASHION = REPO / 'assets' / 'fashion_mnist'
# YOLOv5 Detect's three output convolutions stay fp32; the other 57 run in int8.
DETECT_HEADS = {'model.30.m.0', 'model.30.m.1', 'model.30.m.2'}
INT8_CONVS = 57


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def table_lines(path):
    return [line for line in Path(path).read_text().splitlines() if line.strip() and not line.startswith('#')]


class CalibrateTest(unittest.TestCase, CliErrorAssertions):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.images = cls.dir / 'images'
        cls.images.mkdir()
        scene = Image.open(SCENE).convert('RGB')
        for i, (x, y) in enumerate([(0, 0), (320, 0), (0, 320), (320, 320)]):
            scene.crop((x, y, x + 320, y + 320)).save(cls.images / f'crop{i}.png')
        cls.int8 = cls.dir / 'det.int8.safetensors'
        cls.calibrated = run(cli(), 'calibrate', DETECTOR, cls.images, SCENE, '-o', cls.int8, '--quiet')

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def info(self, model, *extra):
        done = run(cli(), 'info', model, '--json', *extra)
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)

    def detections(self, model, *extra):
        done = run(cli(), 'detect', model, SCENE, '--nosave', '--json', '--conf', '0.1', *extra)
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout.splitlines()[0])['detections']

    def test_summary_file_and_table(self):
        done = self.calibrated
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn('kl, 5 images', done.stdout)
        self.assertIn(f'convolutions: {INT8_CONVS} int8, 3 kept fp32 (model.30.m.0, model.30.m.1, model.30.m.2)',
                      done.stdout)
        self.assertLess(self.int8.stat().st_size, 0.6 * DETECTOR.stat().st_size)
        table = self.dir / 'det.int8.table'
        self.assertIn(f'scale table: {table}', done.stdout)
        lines = table_lines(table)
        self.assertEqual(len(lines), INT8_CONVS)
        nodes = {line.split()[0] for line in lines}
        self.assertFalse(nodes & DETECT_HEADS)
        for line in lines:
            self.assertGreater(float(line.split()[1]), 0)

    def test_info_says_int8(self):
        info = self.info(self.int8)
        self.assertEqual(info['precision'], 'int8')
        self.assertEqual(info['int8_convolutions'], INT8_CONVS)
        methods = {n['name']: n['method'] for n in info['layers']['nodes'] if n['op'] == 'conv2d'}
        self.assertEqual({n for n, m in methods.items() if 'int8' not in m}, DETECT_HEADS)
        fp32 = self.info(DETECTOR, '--no-layers')
        self.assertEqual((fp32['precision'], fp32['int8_convolutions']), ('fp32', 0))
        text = run(cli(), 'info', self.int8, '--no-layers')
        self.assertIn(f'precision:    int8: {INT8_CONVS} of 60 convolutions int8 (kl, 5 images)', text.stdout)

    def test_int8_detects_what_fp32_detects(self):
        reference = self.detections(DETECTOR)
        int8 = self.detections(self.int8)
        self.assertGreater(len(int8), 10)
        for d in reference[:6]:
            same_class = [e for e in int8 if e['class_id'] == d['class_id']]
            best = max((iou(d['box'], e['box']) for e in same_class), default=0.0)
            self.assertGreater(best, 0.8, f'fp32 detection {d} has no int8 match')

    def test_precision_options(self):
        def bench(model, *extra):
            done = run(cli(), 'bench', model, '--runs', '1', '--warmup', '0', '--size', '64', '--json', *extra)
            self.assertEqual(done.returncode, 0, done.stderr)
            return json.loads(done.stdout)['precision']
        self.assertEqual(bench(self.int8), 'int8')
        self.assertEqual(bench(self.int8, '--precision', 'fp32'), 'fp32')
        self.assertEqual(bench(self.int8, '--precision', 'int8'), 'int8')
        self.assertEqual(bench(DETECTOR, '--precision', 'fp32'), 'fp32')
        self.assertOneLineError(run(cli(), 'bench', DETECTOR, '--precision', 'int8'),
                                f'{DETECTOR}: an fp32 model file', 'spdinfer calibrate')
        # Float compute with the int8 file's weights: the same boxes as fp32, nearly.
        weights_only = self.detections(self.int8, '--img', '160')
        self.assertTrue(weights_only)
        done = run(cli(), 'val', self.int8, self.dir / 'missing', '--precision', 'fp32')
        self.assertOneLineError(done, 'missing')

    def test_table_round_trip(self):
        table = self.dir / 'edited.table'
        lines = Path(self.dir / 'det.int8.table').read_text().splitlines()
        kept = [line for line in lines if not line.startswith('model.1 ')]
        self.assertEqual(len(kept), len(lines) - 1)
        table.write_text('\n'.join(kept) + '\n')
        out = self.dir / 'edited.safetensors'
        done = run(cli(), 'calibrate', DETECTOR, '--from-table', table, '-o', out, '--table', self.dir / 'again.table')
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(f'convolutions: {INT8_CONVS - 1} int8, 4 kept fp32 (model.1, ', done.stdout)
        info = self.info(out)
        self.assertEqual(info['int8_convolutions'], INT8_CONVS - 1)
        methods = {n['name']: n['method'] for n in info['layers']['nodes']}
        self.assertNotIn('int8', methods['model.1'])
        self.assertIn('int8', methods['model.3.cv1'])
        # The scales come through unchanged.
        original = {l.split()[0]: l.split()[1] for l in table_lines(self.dir / 'det.int8.table')}
        again = {l.split()[0]: l.split()[1] for l in table_lines(self.dir / 'again.table')}
        self.assertEqual(again, {n: s for n, s in original.items() if n != 'model.1'})

    def test_methods(self):
        out = self.dir / 'minmax.safetensors'
        done = run(cli(), 'calibrate', DETECTOR, self.images, '-o', out, '--method', 'minmax', '--images', '2')
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn('minmax, 2 images', done.stdout)
        scales = {l.split()[0]: float(l.split()[1]) for l in table_lines(self.dir / 'minmax.table')}
        # The first convolution reads pixels / 255 (space_to_depth of the input): its largest |x| is 1.
        self.assertAlmostEqual(scales['model.0.conv'], 1 / 127, places=7)
        pct = self.dir / 'pct.safetensors'
        done = run(cli(), 'calibrate', DETECTOR, self.images, '-o', pct, '--method', 'percentile', '--images', '2')
        self.assertEqual(done.returncode, 0, done.stderr)
        pct_scales = {l.split()[0]: float(l.split()[1]) for l in table_lines(self.dir / 'pct.table')}
        self.assertTrue(all(pct_scales[n] <= scales[n] * (1 + 1e-6) for n in scales))

    def test_classifier(self):
        out = self.dir / 'fashion.int8.safetensors'
        done = run(cli(), 'calibrate', CLASSIFIER, FASHION, '-o', out)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn('10 images', done.stdout)
        self.assertLess(out.stat().st_size, CLASSIFIER.stat().st_size)
        def top1(model):
            done = run(cli(), 'classify', model, FASHION, '--json', '--topk', '1')
            self.assertEqual(done.returncode, 0, done.stderr)
            return [json.loads(l)['topk'][0]['class_id'] for l in done.stdout.splitlines()]
        # Ten images are few for calibration: most, not all, classes agree (Shirt is the hardest).
        agree = sum(a == b for a, b in zip(top1(out), top1(CLASSIFIER)))
        self.assertGreaterEqual(agree, 8)

    def test_check_scores_fp32_against_int8(self):
        # A class-folder dataset of the bundled samples, folders by class number
        # (t10k_00000_9_ankle-boot.png -> 9/t10k_00000_9_ankle-boot.png).
        folders = self.dir / 'fashion_folders'
        for png in FASHION.glob('*.png'):
            label = folders / png.name.split('_')[2]
            label.mkdir(parents=True, exist_ok=True)
            (label / png.name).write_bytes(png.read_bytes())
        out = self.dir / 'checked.safetensors'
        done = run(cli(), 'calibrate', CLASSIFIER, FASHION, '-o', out, '--check', folders)
        self.assertEqual(done.returncode, 0, done.stderr)
        line = [l for l in done.stdout.splitlines() if l.startswith('check: ')]
        self.assertEqual(len(line), 1, done.stdout)
        self.assertRegex(line[0], r'top-1 1\.0000 -> [01]\.\d{4} \([+-]\d+\.\d\d points\), top-5 ')
        # Scales a thousand times too small saturate every activation: the warning names the table.
        table = self.dir / 'tiny.table'
        lines = table_lines(self.dir / 'checked.table')
        table.write_text(''.join(f'{l.split()[0]} {float(l.split()[1]) / 1000:g}\n' for l in lines))
        done = run(cli(), 'calibrate', CLASSIFIER, '--from-table', table, '-o', self.dir / 'ruined.safetensors',
                   '--check', folders)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn('spdinfer: warning: int8 loses', done.stderr)
        self.assertIn(f'points of top-1 on {folders} (more than 1)', done.stderr)
        self.assertIn('ruined.table', done.stderr)
        # A dataset that does not open fails before any calibration.
        self.assertOneLineError(run(cli(), 'calibrate', CLASSIFIER, FASHION, '-o', self.dir / 'never.safetensors',
                                    '--check', FASHION), f'{FASHION}: neither idx files')
        self.assertFalse((self.dir / 'never.safetensors').exists())
        self.assertOneLineError(run(cli(), 'calibrate', DETECTOR, self.images, '-o', self.dir / 'never.safetensors',
                                    '--check', self.dir / 'no_dataset.json'), 'no_dataset.json')
        self.assertOneLineError(run(cli(), 'calibrate', CLASSIFIER, FASHION, '-o', self.dir / 'never.safetensors',
                                    '--check', folders, '--max-drop', '-1'), '--max-drop')

    def test_idx_images(self):
        train = Path('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz')
        if not train.exists():
            self.skipTest(f"needs Debian's dataset-fashion-mnist ({train} absent; scripts/bootstrap installs it)")
        out = self.dir / 'idx.int8.safetensors'
        done = run(cli(), 'calibrate', CLASSIFIER, train, '-o', out, '--images', '20')
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn('kl, 20 images', done.stdout)
        self.assertOneLineError(run(cli(), 'calibrate', DETECTOR, train, '-o', out),
                                f"{train}: idx files hold a classifier's images")

    def test_bad_input(self):
        out = self.dir / 'bad.safetensors'
        self.assertOneLineError(run(cli(), 'calibrate', DETECTOR, '-o', out), 'no calibration images')
        self.assertOneLineError(run(cli(), 'calibrate', DETECTOR, self.dir / 'nothing', '-o', out),
                                str(self.dir / 'nothing'))
        self.assertOneLineError(run(cli(), 'calibrate', self.int8, self.images, '-o', out),
                                f'{self.int8}: already an int8 model')
        for text, problem in [('model.1 0.1\nmodel.3.cv1\n', ':2: expected `node scale`'),
                              ('# c\nmodel.1 0\n', ":2: scale '0' of 'model.1' is not a finite number > 0"),
                              ('model.1 -1\n', ":1: scale '-1'"),
                              ('model.1 nan\n', ":1: scale 'nan'"),
                              ('model.1 inf\n', ":1: scale 'inf'"),
                              ('model.1 0.1\nmodel.99 0.1\n', ":2: unknown node 'model.99'"),
                              ('model.30.m.0 0.1\n', ":1: unknown node 'model.30.m.0'"),
                              ('model.1 0.1\nmodel.1 0.2\n', ":2: node 'model.1' appears twice")]:
            table = self.dir / 'bad.table'
            table.write_text(text)
            self.assertOneLineError(run(cli(), 'calibrate', DETECTOR, '--from-table', table, '-o', out),
                                    f'{table}{problem}')
        self.assertOneLineError(
            run(cli(), 'calibrate', DETECTOR, self.images, '--from-table', self.dir / 'det.int8.table', '-o', out),
            'give no images')
        self.assertOneLineError(run(cli(), 'calibrate', DETECTOR, self.images, '-o', out, '--method', 'mse'),
                                '--method')
        self.assertOneLineError(run(cli(), 'calibrate', DETECTOR, self.images, '-o', DETECTOR), 'the model file itself')
        self.assertOneLineError(run(cli(), 'calibrate', DETECTOR, self.images, '-o', out, '--percentile', 'nan'),
                                '--percentile')
        self.assertOneLineError(run(cli(), 'calibrate', DETECTOR, self.images, '-o', self.dir / 'no' / 'm.safetensors'),
                                str(self.dir / 'no' / 'm.safetensors'), 'cannot write')
        self.assertFalse(out.exists())

    def test_bad_int8_files(self):
        def edited(name, edit):
            return edited_model(self.int8, self.dir / name, edit)

        def quantization(edit_q):
            def edit(header):
                q = json.loads(header['__metadata__']['quantization'])
                edit_q(q)
                header['__metadata__']['quantization'] = json.dumps(q)
            return edit

        def no_scale(q):
            del q['input_scales']['model.1']

        def extra_scale(q):
            q['input_scales']['model.30.m.0'] = 0.1

        def zero_scale(q):
            q['input_scales']['model.1'] = 0

        def version_1(header):
            header['__metadata__']['format_version'] = '1'

        cases = [(quantization(no_scale), "tensor 'model.1.weight_int8' but no input scale for node 'model.1'"),
                 (quantization(extra_scale), "input scale for 'model.30.m.0', which is not a convolution stored in int8"),
                 (quantization(zero_scale), "input scale of 'model.1' is 0 (must be a finite number > 0)"),
                 (version_1, "metadata 'quantization' in a format version 1 file")]
        for i, (edit, problem) in enumerate(cases):
            path = edited(f'edited{i}.safetensors', edit)
            self.assertOneLineError(run(cli(), 'info', path, '--no-layers'), f'{path}: ', problem)

    def test_help(self):
        done = run(cli(), 'calibrate', '--help')
        self.assertEqual(done.returncode, 0)
        for text in ['(default: 200)', '(default: kl)', '--from-table', '--table', '-o, --out']:
            self.assertIn(text, done.stdout)
        for command in ['val', 'bench']:
            self.assertIn("--precision", run(cli(), command, '--help').stdout)
            self.assertIn("(default: the model file's)", run(cli(), command, '--help').stdout)


if __name__ == '__main__':
    unittest.main()
