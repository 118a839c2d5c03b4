"""spdinfer as an installed C++ library: `cmake --install` into a fresh prefix, then the example
consumer (examples/detect_image) configured against that prefix with find_package(spdinfer),
built, and run on the bundled detector and scene.

What it is: a check that the installed tree is complete and self-consistent (headers under
include/spdinfer/ whose own includes resolve there, the package config, the static library's link
dependencies), and that the library's Detector, used as the example uses it, finds exactly the
boxes `spdinfer detect` finds with the same settings.
What it is not: a test of the detector's accuracy (test_bundled_detector.py).
"""

import json
import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

from tests.python.cli_support import cli, run
from tests.python.helpers import REPO

MODEL = REPO / 'assets' / 'scenes_spd_yolov5n.safetensors'
SCENE = REPO / 'assets' / 'scenes' / 'demo_scene.jpg'
EXAMPLE = REPO / 'examples' / 'detect_image'


def build_dir():
    path = Path(os.environ.get('SPDINFER_BUILD_DIR') or REPO / 'build')
    cache = path / 'CMakeCache.txt'
    if not cache.exists():
        raise unittest.SkipTest(f'no CMake build at {path} (build first, or set SPDINFER_BUILD_DIR)')
    if re.search(r'^SPDINFER_(SANITIZE|FUZZ):BOOL=ON$', cache.read_text(), re.M):
        # The instrumented library needs the sanitizer runtimes, which the exported target does
        # not carry: a consumer of a sanitized build is not what users get.
        raise unittest.SkipTest(f'{path} is a sanitized or fuzzing build; the installed library is tested on Release')
    return path


class InstalledLibraryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        build = build_dir()
        cls.tmp = tempfile.TemporaryDirectory(prefix='spdinfer-install-')
        cls.prefix = Path(cls.tmp.name) / 'prefix'
        example_build = Path(cls.tmp.name) / 'example'
        # Component Unspecified: the library, its headers, the package and the binary, not the Python
        # module (installed by pip as component python, and not built by every build).
        for step in (['cmake', '--install', build, '--prefix', cls.prefix, '--component', 'Unspecified'],
                     ['cmake', '-S', EXAMPLE, '-B', example_build, f'-DCMAKE_PREFIX_PATH={cls.prefix}',
                      '-DCMAKE_BUILD_TYPE=Release'],
                     ['cmake', '--build', example_build]):
            done = run(*step)
            if done.returncode != 0:
                raise AssertionError(f'{" ".join(map(str, step))} failed:\n{done.stdout}\n{done.stderr}')
        cls.example = example_build / 'detect_image'

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_headers_live_under_include_spdinfer(self):
        include = self.prefix / 'include'
        self.assertEqual(sorted(p.name for p in include.iterdir()), ['spdinfer'])
        detector = include / 'spdinfer' / 'models' / 'detector.h'
        self.assertIn('#include "spdinfer/detect/detection.h"', detector.read_text())
        for header in include.rglob('*.h'):
            for quoted in re.findall(r'#include "([^"]*)"', header.read_text()):
                with self.subTest(header=str(header.relative_to(include)), include=quoted):
                    self.assertTrue((include / quoted).is_file())

    def test_example_finds_what_the_cli_finds(self):
        done = run(self.example, MODEL, SCENE)
        self.assertEqual(done.returncode, 0, done.stderr)
        # Each line: NAME CONFIDENCE X1 Y1 X2 Y2, where a name may hold spaces ("Ankle boot").
        ours = [line.rsplit(maxsplit=5) for line in done.stdout.splitlines()]
        # The example runs the library's defaults, which are YOLOv5 detect.py's.
        cli_run = run(cli(), 'detect', MODEL, SCENE, '--img', '640', '--conf', '0.25', '--iou', '0.45', '--json',
                      '--nosave')
        self.assertEqual(cli_run.returncode, 0, cli_run.stderr)
        theirs = json.loads(cli_run.stdout)['detections']
        self.assertGreater(len(theirs), 0, 'the bundled detector finds objects on its demo scene')
        self.assertEqual(len(ours), len(theirs), done.stdout)
        for line, d in zip(ours, theirs):
            self.assertEqual(line[0], d['class_name'])
            self.assertAlmostEqual(float(line[1]), d['confidence'], delta=1e-4)
            for got, want in zip(map(float, line[2:]), d['box']):
                self.assertAlmostEqual(got, want, delta=0.011)  # both rounded to 2 decimals

    def test_example_reports_a_bad_model_in_one_line(self):
        done = run(self.example, SCENE, SCENE)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)
        self.assertIn(str(SCENE), done.stderr)


if __name__ == '__main__':
    unittest.main()
