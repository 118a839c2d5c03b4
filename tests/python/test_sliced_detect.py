"""Sliced inference end to end: `spdinfer detect --slice` and `spdinfer val --slice`.

What it is: the built binary on (1) the real COCO YOLOv5n (../shared, converted here) and
bus.jpg, where 320x320 tiles must still find the bus and the four persons that the plain pass
finds, one box each, with boxes close to the plain pass's; (2) a tiny random YOLOv5, where the
JSON must report the tiles of SAHI's plan and one forward per batch of --tile-batch tiles (plus one
for the full pass), every merge and match, and the slicing options' errors. `val --slice` is
tested in test_detection_val.py, on its scenes. Without ../shared or PyTorch the parts that need
them skip, saying so.
What it is not: a measurement of what slicing gains (docs/experiments.md).
"""

import json
import math
import tempfile
import unittest
from pathlib import Path

from tests.python.cli_support import CliErrorAssertions, cli, convert, convert_tiny_yolov5, run
from tests.python.helpers import REPO, shared_file, skip_without_shared
from tests.python.coco_map import box_iou

IMAGE = sorted((REPO / "assets" / "fashion_mnist").glob("*.png"))[0]


def tile_starts(length, slice_, overlap):
    """SAHI's get_slice_bboxes along one axis: step slice - int(overlap * slice), the last tile
    moved back to end at the image's edge."""
    tile = min(slice_, length)
    step = max(1, tile - int(overlap * slice_))
    starts, start = [], 0
    while True:
        if start + tile >= length:
            return starts + [length - tile]
        starts.append(start)
        start += step


def tile_count(w, h, sw, sh, overlap):
    return len(tile_starts(w, sw, overlap)) * len(tile_starts(h, sh, overlap))


def detect_json(test, *args):
    done = run(cli(), "detect", *args, "--json", "--nosave", "--threads", "2")
    test.assertEqual(done.returncode, 0, done.stderr)
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr


@skip_without_shared
class SlicedYoloV5nTest(unittest.TestCase):
    """The real YOLOv5n on bus.jpg (810x1080), plain and in 320x320 tiles."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-sliced-")
        cls.model = convert(shared_file("weights/yolov5n.pt"), Path(cls.tmp.name) / "yolov5n.safetensors")
        cls.bus = shared_file("images/bus.jpg")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_tiles_find_the_bus_and_the_persons(self):
        [plain], _ = detect_json(self, self.model, self.bus)
        [sliced], stderr = detect_json(self, self.model, self.bus, "--slice", "320x320")
        self.assertEqual(sliced["tiles"], tile_count(810, 1080, 320, 320, 0.2))  # 3 x 4
        self.assertEqual(sliced["forwards"], math.ceil(sliced["tiles"] / 8) + 1)
        self.assertEqual(set(sliced["ms"]), {"decode", "preprocess", "inference", "nms", "merge"})
        self.assertIn(f"{sliced['tiles']} tiles in {sliced['forwards']} forwards", stderr)
        self.assertIn("sliced inference: tiles 320x320, overlap 0.2, full pass, nmm/ios > 0.5", stderr)
        for want in plain["detections"]:
            same = [d for d in sliced["detections"] if d["class_id"] == want["class_id"]]
            best = max((box_iou([d["box"]], [want["box"]])[0, 0] for d in same), default=0.0)
            with self.subTest(want=want):
                # One sliced box per object found by the plain pass, where that pass put it.
                self.assertGreater(best, 0.7, f"{want} vs {same}")
                self.assertEqual(sum(box_iou([d["box"]], [want["box"]])[0, 0] > 0.5 for d in same), 1, same)
        self.assertEqual(sum(d["class_name"] == "bus" for d in sliced["detections"]), 1, sliced)
        for d in sliced["detections"]:
            x1, y1, x2, y2 = d["box"]
            self.assertTrue(0 <= x1 < x2 <= 810 and 0 <= y1 < y2 <= 1080, d)


class SlicedRandomModelTest(CliErrorAssertions, unittest.TestCase):
    """A tiny random YOLOv5: what ran, and the options' errors."""

    @classmethod
    def setUpClass(cls):
        try:
            import torch  # noqa: F401
        except ImportError:
            raise unittest.SkipTest("needs PyTorch (/usr/bin/python3 with python3-torch)")
        cls.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-sliced-tiny-")
        cls.model = convert_tiny_yolov5(Path(cls.tmp.name), 5)
        from PIL import Image
        cls.image = Path(cls.tmp.name) / "wide.png"
        Image.open(IMAGE).convert("RGB").resize((300, 170)).save(cls.image)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_one_forward_per_batch_of_tiles(self):
        tiles = tile_count(300, 170, 64, 48, 0.25)
        for batch, full_pass in ((1, "--full-pass"), (4, "--full-pass"), (1000, "--no-full-pass")):
            with self.subTest(batch=batch, full_pass=full_pass):
                [r], _ = detect_json(self, self.model, self.image, "--img", "64", "--conf", "0.01", "--slice",
                                     "64x48", "--overlap", "0.25", "--tile-batch", str(batch), full_pass)
                self.assertEqual(r["tiles"], tiles)
                self.assertEqual(r["forwards"], math.ceil(tiles / batch) + (full_pass == "--full-pass"))
                for d in r["detections"]:
                    x1, y1, x2, y2 = d["box"]
                    self.assertTrue(0 <= x1 <= x2 <= 300 and 0 <= y1 <= y2 <= 170, d)
        # A square slice from one number; an image smaller than the slice is one tile.
        [r], _ = detect_json(self, self.model, self.image, "--img", "64", "--slice", "1000")
        self.assertEqual((r["tiles"], r["forwards"]), (1, 1))

    def test_every_merge_and_match_runs(self):
        for merge in ("nms", "nmm"):
            for match in ("iou", "ios"):
                with self.subTest(merge=merge, match=match):
                    detect_json(self, self.model, self.image, "--img", "64", "--conf", "0.01", "--slice", "64",
                                "--merge", merge, "--match", match, "--merge-thres", "0", "--agnostic")

    def test_bad_slicing_options_are_one_line_errors(self):
        base = [cli(), "detect", self.model, self.image, "--img", "64", "--nosave"]
        for size in ("0x5", "5x0", "abc", "", "64x", "x64", "64x64x64", "-64x64", "+64", "31x64", "64x20001",
                     "nan", "99999999999999999999", "64 x64"):
            with self.subTest(slice=size):
                self.assertOneLineError(run(*base, "--slice", size), "--slice")
        for option, values in (("--overlap", ("1.5", "nan", "-0.1", "inf", "abc", "0.96")),
                               ("--merge-thres", ("1.5", "nan", "-1", "abc")),
                               ("--tile-batch", ("0", "-1", "abc", "1.5", "99999")),
                               ("--merge", ("foo", "NMSX", "", "1")), ("--match", ("foo", "dice", "0"))):
            for value in values:
                with self.subTest(option=option, value=value):
                    self.assertOneLineError(run(*base, "--slice", "64", option, value), option)
        # The companions do nothing without --slice: an error rather than silence.
        for args in (("--overlap", "0.3"), ("--merge", "nms"), ("--no-full-pass",), ("--tile-batch", "2")):
            with self.subTest(args=args):
                # CLI11 names the flag pair by its first name: "--full-pass requires --slice".
                self.assertOneLineError(run(*base, *args), args[0].replace("--no-", "--"), "requires --slice")
        classifier = REPO / "tests" / "data" / "tiny_resnet_spd.safetensors"
        self.assertOneLineError(run(cli(), "val", classifier, self.tmp.name, "--slice", "64"), "--slice",
                                "detectors")


if __name__ == "__main__":
    unittest.main()
