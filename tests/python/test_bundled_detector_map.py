"""`spdinfer val` on the bundled detector (assets/scenes_spd_yolov5n.safetensors) reproduces the
mAP@0.5, mAP@0.5:0.95 and AP-small that docs/experiments.md and assets/README.md quote, on the
generated test split (weights_tools.train.synth_scenes, seed 0, regenerated here: scene i depends
only on the seed, the split and i). With the same inputs only a change in the engine, the model
file or the generator can move them by more than float rounding, and any such change must update
the docs too.

The sanitized pass of scripts/test leaves this out (its code is what test_val.py runs there, over
a thousand images more): see the label below.
"""
# CTest label: release_only

import json
import os
import tempfile
import unittest

from tests.python.cli_support import cli, run
from tests.python.helpers import REPO

MODEL = REPO / 'assets' / 'scenes_spd_yolov5n.safetensors'
DATA = '/usr/share/datasets/fashion-mnist'

# docs/experiments.md, "A third schedule" of the detection section: the bundled model on the 1,000
# test scenes, `spdinfer val` defaults (--img 320 from the model file, --conf 0.001, --iou 0.6),
# to four decimals (the docs round them to three: 0.489, 0.349, 0.343).
DOCUMENTED = {'map50': 0.4892, 'map50_95': 0.3495, 'ap_small': 0.3426}
TEST_SCENES = 1000
# Half the docs' last decimal: float rounding in another instruction family moves these by far less.
DOCUMENTED_TOLERANCE = 5e-4


class BundledDetectorMapTest(unittest.TestCase):
    def test_val_reproduces_the_documented_numbers(self):
        if not os.path.exists(os.path.join(DATA, 't10k-images-idx3-ubyte.gz')):
            raise unittest.SkipTest(f"needs Debian's dataset-fashion-mnist in {DATA} (scripts/bootstrap installs it)")
        from weights_tools.train.synth_scenes import PRESETS, generate
        with tempfile.TemporaryDirectory(prefix='spdinfer-scenes-') as root:
            generate(root, {'train': 0, 'val': 0, 'test': TEST_SCENES}, PRESETS['small'], seed=0, log=lambda _: None)
            done = run(cli(), 'val', MODEL, os.path.join(root, 'dataset.json'), '--split', 'test', '--json',
                       '--threads', '2')
        self.assertEqual(done.returncode, 0, done.stderr)
        result = json.loads(done.stdout)
        self.assertEqual(result['images'], TEST_SCENES)
        for key, documented in DOCUMENTED.items():
            with self.subTest(key=key):
                self.assertAlmostEqual(result[key], documented, delta=DOCUMENTED_TOLERANCE)



if __name__ == '__main__':
    unittest.main()
