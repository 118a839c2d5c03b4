"""`spdinfer val` on a detector: COCO mAP by the engine versus an independent NumPy implementation.

What it is: a few generated scenes (weights_tools.train.synth_scenes) and a 10-class YOLOv5n with
random weights, saved and converted by weights_tools.train.detector's own code; `spdinfer val
--json --predictions` on them; the COCO metric recomputed from the predictions file and the label
files by tests/python/coco_map.py must agree with the engine's numbers to 1e-6 (mAP@0.5,
mAP@0.75, mAP@0.5:0.95, AP small/medium/large, per class). The NumPy implementation is itself
checked on crafted cases, and val's errors are one line with exit 2. `val --slice` (sliced
inference) is held to the same agreement, and its JSON must report SAHI's tiles and the batches.
What it is not: a measure of a trained detector (docs/experiments.md).
"""

import json
import os
import tempfile
import unittest

from tests.python.cli_support import CliErrorAssertions, cli, run
from tests.python.coco_map import COCOEvalBoxes, evaluate_predictions, summarize

DATA = '/usr/share/datasets/fashion-mnist'
TOLERANCE = 1e-6  # absolute; and relative 1e-5, since val's JSON has 6 significant digits


def need_dataset():
    if not os.path.exists(os.path.join(DATA, 't10k-images-idx3-ubyte.gz')):
        raise unittest.SkipTest(f"needs Debian's dataset-fashion-mnist in {DATA} (scripts/bootstrap installs it)")


class CocoReferenceTest(unittest.TestCase):
    """The NumPy implementation on cases whose AP follows by hand from COCO's definition."""

    def ap(self, gt, dt, **kw):
        return summarize(COCOEvalBoxes([{'gt': gt, 'dt': dt}], 1, **kw).accumulate())

    def test_perfect_missed_false_positive_duplicate(self):
        a, b = [0, 0, 20, 20], [50, 0, 70, 20]
        self.assertAlmostEqual(self.ap([(0, a), (0, b)], [(0, .9, a), (0, .8, b)])['map50'], 1.0)
        self.assertAlmostEqual(self.ap([(0, a), (0, b)], [(0, .9, a)])['map50'], 51 / 101)
        self.assertAlmostEqual(self.ap([(0, a)], [(0, .9, b), (0, .8, a)])['map50'], 0.5)
        self.assertAlmostEqual(self.ap([(0, a), (0, b)], [(0, .9, a), (0, .8, [1, 0, 21, 20]), (0, .7, b)])['map50'],
                               (51 + 50 * 2 / 3) / 101)

    def test_area_ranges(self):
        small, large = [0, 0, 20, 20], [300, 0, 400, 100]
        r = self.ap([(0, small), (0, large)], [(0, .95, [500, 500, 700, 700]), (0, .9, small)])
        self.assertAlmostEqual(r['ap_small'], 1.0)   # the large false positive is ignored there
        self.assertEqual(r['ap_large'], 0.0)
        self.assertIsNone(r['ap_medium'])            # no medium objects


class DetectionValTest(unittest.TestCase, CliErrorAssertions):
    @classmethod
    def setUpClass(cls):
        need_dataset()
        import torch
        from weights_tools.train.fashion_mnist import CLASS_NAMES
        from weights_tools.train.synth_scenes import PRESETS, generate
        from weights_tools.train.detector import ModelEMA, build_model, save
        cls.tmp = tempfile.TemporaryDirectory(prefix='spdinfer-detval-')
        root = cls.tmp.name
        # Every area range, and objects large enough for random boxes to hit some of them.
        options = dict(PRESETS['small'], size=(256, 352), object_size=(20, 120), objects=(8, 16))
        generate(os.path.join(root, 'data'), {'train': 0, 'val': 8, 'test': 0}, options, seed=3, log=lambda _: None)
        torch.manual_seed(0)
        model, arch = build_model('yolov5n', len(CLASS_NAMES), 256)
        cls.model = save(root, ModelEMA(model), arch, CLASS_NAMES, 256).replace('checkpoint.pt', 'model.safetensors')
        cls.dataset = os.path.join(root, 'data', 'dataset.json')
        cls.predictions = os.path.join(root, 'predictions.json')
        # --conf 0: random weights score low; every candidate box enters the evaluation.
        done = run(cli(), 'val', cls.model, cls.dataset, '--split', 'val', '--conf', '0', '--max-det', '1000', '--json',
                   '--predictions', cls.predictions)
        if done.returncode != 0:
            raise AssertionError(done.stderr)
        cls.stderr = done.stderr
        cls.result = json.loads(done.stdout)
        with open(cls.predictions) as f:
            cls.saved = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assertAgree(self, ours, theirs):
        if theirs is None:
            self.assertIsNone(ours)
        else:
            self.assertAlmostEqual(ours, theirs, delta=min(TOLERANCE, 1e-5 * abs(theirs) + 1e-12))

    def test_engine_metric_equals_independent_implementation(self):
        reference = evaluate_predictions(self.saved)
        for key in ('map50', 'map75', 'map50_95', 'ap_small', 'ap_medium', 'ap_large'):
            with self.subTest(key=key):
                self.assertAgree(self.result[key], reference[key])
        for c, (ours, theirs) in enumerate(zip(self.result['per_class'], reference['per_class'])):
            for key in ('ap50', 'ap50_95'):
                with self.subTest(cls=c, key=key):
                    self.assertAgree(ours[key], theirs[key])

    def test_the_comparison_is_not_vacuous(self):
        # Random weights find little, but the run must exercise matching and every size range.
        self.assertEqual(self.result['images'], 8)
        for size in ('small', 'medium', 'large'):
            self.assertGreater(self.result['objects'][size], 0, size)
        self.assertGreater(self.result['detections'], 100)
        self.assertGreater(self.result['map50'], 0.0)
        self.assertGreater(self.result['ap_medium'], 0.0)
        self.assertIn('AP50-95 by object size', self.stderr)

    def test_sliced_val_metric_and_report(self):
        # `val --slice`: its numbers are computed on what it saved, as the plain pass's are, and the
        # JSON says how many tiles and forward passes ran (SAHI's tile plan, 3 tiles per batch, plus
        # one full pass per image).
        from tests.python.test_sliced_detect import tile_count
        predictions = os.path.join(self.tmp.name, 'sliced.json')
        done = run(cli(), 'val', self.model, self.dataset, '--split', 'val', '--conf', '0', '--max-det', '1000',
                   '--json', '--predictions', predictions, '--slice', '160x160', '--tile-batch', '3')
        self.assertEqual(done.returncode, 0, done.stderr)
        result = json.loads(done.stdout)
        with open(predictions) as f:
            saved = json.load(f)
        tiles = [tile_count(im['width'], im['height'], 160, 160, 0.2) for im in saved['images']]
        self.assertEqual(result['slice']['tiles'], sum(tiles))
        self.assertEqual(result['slice']['forwards'], sum(-(-t // 3) + 1 for t in tiles))
        self.assertEqual((result['slice']['merge'], result['slice']['match']), ('nmm', 'ios'))
        self.assertIn('merge', result['ms_per_image'])
        self.assertGreater(result['detections'], 100)
        reference = evaluate_predictions(saved)
        for key in ('map50', 'map75', 'map50_95', 'ap_small', 'ap_medium', 'ap_large'):
            with self.subTest(key=key):
                self.assertAgree(result[key], reference[key])

    def test_split_folder_gives_the_same_numbers(self):
        folder = os.path.join(self.tmp.name, 'data', 'images', 'val')
        done = run(cli(), 'val', self.model, folder, '--conf', '0', '--max-det', '1000', '--json')
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)['map50_95'], self.result['map50_95'])

    def test_moved_dataset_is_found_beside_its_file(self):
        moved = os.path.join(self.tmp.name, 'data', 'moved.json')
        with open(self.dataset) as f:
            meta = json.load(f)
        with open(moved, 'w') as f:
            json.dump(dict(meta, path='/nonexistent/scenes'), f)
        done = run(cli(), 'val', self.model, moved, '--conf', '0', '--max-det', '1000', '--json')
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)['map50_95'], self.result['map50_95'])

    def test_errors(self):
        self.assertOneLineError(run(cli(), 'val', self.model, self.dataset, '--split', 'nope'), "no split 'nope'")
        bad = os.path.join(self.tmp.name, 'bad')
        os.makedirs(os.path.join(bad, 'images'))
        os.makedirs(os.path.join(bad, 'labels'))
        first = sorted(os.listdir(os.path.join(self.tmp.name, 'data', 'images', 'val')))[0]
        os.link(os.path.join(self.tmp.name, 'data', 'images', 'val', first), os.path.join(bad, 'images', first))
        label = os.path.join(bad, 'labels', os.path.splitext(first)[0] + '.txt')
        with open(label, 'w') as f:
            f.write('0 0.5 0.5 0.1 0.1\n12 0.5 0.5 0.1 0.1\n')
        self.assertOneLineError(run(cli(), 'val', self.model, os.path.join(bad, 'images')), f'{label}:2:', 'class 12')
        with open(label, 'w') as f:
            f.write('0 0.5 0.5 0.1\n')
        self.assertOneLineError(run(cli(), 'val', self.model, os.path.join(bad, 'images')), f'{label}:1:', '5 numbers')
        self.assertOneLineError(run(cli(), 'val', self.model, self.dataset, '--conf', 'nan'), '--conf')


if __name__ == '__main__':
    unittest.main()
