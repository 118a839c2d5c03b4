"""`classify` and `detect` over many images (#27 item 6): `--batch N` gives the results of one image
at a time, `--quiet` keeps only the summary, one unreadable image is a warning naming it while the
run goes on (exit status 2 at the end), and on a terminal the progress bar shows a rate and an ETA.

Drives the built binary on the bundled classifier and detector and the images in assets/.
"""

import json
import os
import pty
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from tests.python.cli_support import cli, run
from tests.python.helpers import REPO

CLASSIFIER = REPO / "assets" / "fashion_resnet_spd.safetensors"
DETECTOR = REPO / "assets" / "scenes_spd_yolov5n.safetensors"


def json_lines(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def run_on_terminal(*args, timeout=600):
    """Runs a command with stderr on a pseudo-terminal; returns (status, what stderr showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(a) for a in args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.wait(timeout=timeout), shown.decode(errors="replace")


class ManyImages(unittest.TestCase):
    def setUp(self):
        self.exe = cli()
        self.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-many-")
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def classify_folder(self, with_bad_file=False):
        folder = self.dir / ("fashion_with_bad_file" if with_bad_file else "fashion")
        shutil.copytree(REPO / "assets" / "fashion_mnist", folder, dirs_exist_ok=True)
        if with_bad_file:
            (folder / "t10k_00003_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        return folder

    def classify(self, *args):
        return run(self.exe, "classify", CLASSIFIER, *args, "--json", "--topk", "3")


class Classify(ManyImages):
    def test_batches_give_the_results_of_one_image_at_a_time(self):
        folder = self.classify_folder()
        alone = self.classify(folder)
        self.assertEqual(alone.returncode, 0, alone.stderr)
        for batch in ("4", "64"):
            batched = self.classify(folder, "--batch", batch)
            self.assertEqual(batched.returncode, 0, batched.stderr)
            self.assertIn(f"shape ({batch}, 3, 32, 32)", batched.stderr)
            a, b = json_lines(alone.stdout), json_lines(batched.stdout)
            self.assertEqual([x["image"] for x in a], [x["image"] for x in b])
            for x, y in zip(a, b):
                self.assertEqual([t["class_id"] for t in x["topk"]], [t["class_id"] for t in y["topk"]])
                for s, t in zip(x["topk"], y["topk"]):
                    self.assertAlmostEqual(s["probability"], t["probability"], places=5)

    def test_an_unreadable_image_is_skipped_with_a_warning_and_exit_2(self):
        folder = self.classify_folder(with_bad_file=True)
        for batch in ("1", "3"):
            done = self.classify(folder, "--batch", batch)
            self.assertEqual(done.returncode, 2, done.stderr)
            results = json_lines(done.stdout)
            self.assertEqual(len(results), 10)  # every readable image, before and after the bad one
            self.assertNotIn("broken", " ".join(r["image"] for r in results))
            warnings = [l for l in done.stderr.splitlines() if l.startswith("spdinfer: warning:")]
            self.assertEqual(len(warnings), 2, done.stderr)
            self.assertIn("t10k_00003_broken.png", warnings[0])
            self.assertIn("image 4/11", warnings[0])
            self.assertIn("1 of 11 images could not be read", warnings[1])
            self.assertNotIn("error", done.stderr)

    def test_a_single_unreadable_image_is_an_error(self):
        bad = self.dir / "broken.png"
        bad.write_bytes(b"not an image")
        done = run(self.exe, "classify", CLASSIFIER, bad)
        self.assertEqual(done.returncode, 2)
        self.assertTrue(done.stderr.startswith("spdinfer: error: "), done.stderr)
        self.assertIn("broken.png", done.stderr)

    def test_quiet_prints_only_the_summary(self):
        done = run(self.exe, "classify", CLASSIFIER, self.classify_folder(), "--quiet")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.splitlines()[0][:6], "Speed:", done.stdout)
        self.assertEqual(len(done.stdout.splitlines()), 1, done.stdout)

    def test_batch_is_checked(self):
        done = run(self.exe, "classify", CLASSIFIER, self.classify_folder(), "--batch", "0")
        self.assertEqual(done.returncode, 2)
        self.assertIn("--batch", done.stderr)

    def test_progress_bar_shows_rate_and_eta_on_a_terminal(self):
        status, shown = run_on_terminal(self.exe, "classify", CLASSIFIER, self.classify_folder())
        self.assertEqual(status, 0, shown)
        self.assertRegex(shown, r"\[[#.]{30}\] \d+/10 \(\s*\d+%\) [\d.]+ images/s, ETA \d+:\d\d")
        status, shown = run_on_terminal(self.exe, "classify", CLASSIFIER, self.classify_folder(), "--quiet")
        self.assertEqual(status, 0, shown)
        self.assertNotIn("images/s", shown)


if __name__ == "__main__":
    unittest.main()
