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


class Detect(ManyImages):
    def scenes_folder(self, with_bad_file=False):
        """Eight crops of the demo scene in two sizes (so batches hold two letterboxed shapes)."""
        from PIL import Image
        folder = self.dir / ("scenes_with_bad_file" if with_bad_file else "scenes")
        folder.mkdir(exist_ok=True)
        scene = Image.open(REPO / "assets" / "scenes" / "demo_scene.jpg").convert("RGB")
        for k in range(8):
            w, h = (320, 320) if k % 2 == 0 else (320, 240)
            scene.crop((20 * k, 10 * k, 20 * k + w, 10 * k + h)).save(folder / f"crop_{k}.png")
        if with_bad_file:
            (folder / "crop_2b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        return folder

    def detect(self, *args):
        return run(self.exe, "detect", DETECTOR, *args, "--json", "--nosave", "--conf", "0.1")

    def test_batches_give_the_results_of_one_image_at_a_time(self):
        folder = self.scenes_folder()
        alone = self.detect(folder)
        self.assertEqual(alone.returncode, 0, alone.stderr)
        batched = self.detect(folder, "--batch", "4")
        self.assertEqual(batched.returncode, 0, batched.stderr)
        a, b = json_lines(alone.stdout), json_lines(batched.stdout)
        self.assertEqual([x["image"] for x in a], [x["image"] for x in b])
        self.assertGreater(sum(len(x["detections"]) for x in a), 8)
        for x, y in zip(a, b):
            self.assertEqual([d["class_id"] for d in x["detections"]], [d["class_id"] for d in y["detections"]])
            for d, e in zip(x["detections"], y["detections"]):
                for u, v in zip(d["box"], e["box"]):
                    self.assertAlmostEqual(u, v, delta=0.05)
                self.assertAlmostEqual(d["confidence"], e["confidence"], places=4)

    def test_an_unreadable_image_is_skipped_with_a_warning_and_exit_2(self):
        folder = self.scenes_folder(with_bad_file=True)
        for batch in ("1", "4"):
            done = self.detect(folder, "--batch", batch, "--save-txt")
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertEqual(len(json_lines(done.stdout)), 8)
            warnings = [l for l in done.stderr.splitlines() if l.startswith("spdinfer: warning:")]
            self.assertEqual(len(warnings), 2, done.stderr)
            self.assertIn("image 4/9", warnings[0])
            self.assertIn("crop_2b.png", warnings[0])
            self.assertIn("1 of 9 images could not be read", warnings[1])
            self.assertIn("8 labels saved", done.stderr)

    def test_quiet_prints_only_the_summary(self):
        done = run(self.exe, "detect", DETECTOR, self.scenes_folder(), "--quiet", "--nosave")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(len(done.stdout.splitlines()), 1, done.stdout)
        self.assertTrue(done.stdout.startswith("Speed:"), done.stdout)

    def test_batch_and_slice_are_refused_together(self):
        done = run(self.exe, "detect", DETECTOR, self.scenes_folder(), "--slice", "160", "--batch", "2", "--nosave")
        self.assertEqual(done.returncode, 2)
        self.assertIn("--tile-batch", done.stderr)

    def test_progress_bars_over_images_and_over_a_sliced_photo_s_tiles(self):
        status, shown = run_on_terminal(self.exe, "detect", DETECTOR, self.scenes_folder(), "--nosave")
        self.assertEqual(status, 0, shown)
        self.assertRegex(shown, r"\] \d+/8 \(\s*\d+%\) [\d.]+ images/s, ETA \d+:\d\d")
        status, shown = run_on_terminal(self.exe, "detect", DETECTOR, REPO / "assets" / "scenes" / "demo_scene.jpg",
                                        "--slice", "96", "--tile-batch", "2", "--nosave")
        self.assertEqual(status, 0, shown)
        self.assertRegex(shown, r"\] \d+/\d+ \(\s*\d+%\) [\d.]+ tiles/s, ETA \d+:\d\d")


if __name__ == "__main__":
    unittest.main()
