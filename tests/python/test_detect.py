"""End-to-end tests of `spdinfer detect` against the PyTorch reference pipeline.

What it is: the real YOLOv5n (../shared/weights/yolov5n.pt, converted here) on the two sample
photos: bus.jpg must give 4 persons and 1 bus, zidane.jpg 2 persons and 1 tie (what the YOLOv5
code itself finds), with boxes within 2 px and confidences within 0.02 of
weights_tools.reference.pipeline (PIL decoding, the same letterbox, the reference torch model,
the same NMS). JPEG decoders differ by a few grey levels (stb_image vs libjpeg), so the photos
are also compared as PNGs decoded identically, where the match must be far tighter. Then the
options (--classes, --max-det, --img rounding, --out, --save-txt, text output). Without
../shared those tests skip with a message; a tiny random YOLOv5 model (tests/python/helpers.py)
still checks the pipeline against the reference, and the errors (bad option values, missing
file, a text file named .jpg, a classifier given to detect) must each print one line
`spdinfer: error: ...` and exit 2.
What it is not: a test of YOLOv5's accuracy, or of the engine's layers (test_golden.py).
"""

import json
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

from tests.python.cli_support import CliErrorAssertions, cli, convert, convert_tiny_yolov5, run
from tests.python.coco_map import box_iou
from tests.python.helpers import make_tiny_yolov5_model, shared_file, skip_without_shared

BOX_TOL = 2.0  # px, JPEG photos (different decoders)
CONF_TOL = 0.02
TIGHT_BOX_TOL = 0.1  # px, identical pixels (PNG): only float rounding and JSON's 0.01 px
TIGHT_CONF_TOL = 1e-3


def detect_json(test, model, images, *args):
    done = run(cli(), "detect", model, *images, "--json", "--nosave", "--threads", "2", *args)
    test.assertEqual(done.returncode, 0, done.stderr)
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def reference(model_path, images, **kwargs):
    from weights_tools.reference import load
    from weights_tools.reference.pipeline import detect
    model, meta = load(str(model_path))
    return [detect(model, meta, str(p), **kwargs) for p in images]


def counts(result):
    out = {}
    for d in result["detections"]:
        out[d["class_name"]] = out.get(d["class_name"], 0) + 1
    return out


def compare(test, got, want, box_tol, conf_tol):
    """Pair each reference detection with the engine's of the same class and largest IoU;
    returns (max box difference in px, max confidence difference)."""
    test.assertEqual(got["image"], want["image"])
    test.assertEqual((got["width"], got["height"]), (want["width"], want["height"]))
    test.assertEqual(len(got["detections"]), len(want["detections"]), f"{got}\nvs reference\n{want}")
    unused = list(got["detections"])
    max_box = max_conf = 0.0
    for w in want["detections"]:
        same = [g for g in unused if g["class_id"] == w["class_id"]]
        test.assertTrue(same, f"no {w['class_name']} in the engine's output for {got['image']}")
        g = max(same, key=lambda g: box_iou([g["box"]], [w["box"]])[0, 0])
        unused.remove(g)
        box = max(abs(a - b) for a, b in zip(g["box"], w["box"]))
        conf = abs(g["confidence"] - w["confidence"])
        test.assertLessEqual(box, box_tol, f"{w['class_name']} box {g['box']} vs reference {w['box']}")
        test.assertLessEqual(conf, conf_tol, f"{w['class_name']} {g['confidence']} vs {w['confidence']}")
        test.assertEqual(g["class_name"], w["class_name"])
        max_box, max_conf = max(max_box, box), max(max_conf, conf)
    return max_box, max_conf


@skip_without_shared
class YoloV5nPhotosTest(unittest.TestCase):
    """The real YOLOv5n on bus.jpg and zidane.jpg."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-detect-")
        cls.dir = Path(cls.tmp.name)
        cls.model = convert(shared_file("weights/yolov5n.pt"), cls.dir / "yolov5n.safetensors")
        cls.photos = [shared_file("images/bus.jpg"), shared_file("images/zidane.jpg")]
        cls.engine = None
        cls.ref = None

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def results(self):
        if self.engine is None:
            type(self).engine, _ = detect_json(self, self.model, self.photos)
            type(self).ref = reference(self.model, self.photos)
        return self.engine, self.ref

    def test_detections_on_the_photos(self):
        engine, _ = self.results()
        self.assertEqual(counts(engine[0]), {"person": 4, "bus": 1})
        self.assertEqual(counts(engine[1]), {"person": 2, "tie": 1})
        self.assertEqual((engine[0]["width"], engine[0]["height"]), (810, 1080))
        for r in engine:
            self.assertEqual(set(r), {"image", "width", "height", "detections", "ms"})
            self.assertEqual(set(r["ms"]), {"decode", "preprocess", "inference", "nms"})
            confs = [d["confidence"] for d in r["detections"]]
            self.assertEqual(confs, sorted(confs, reverse=True))
            for d in r["detections"]:
                x1, y1, x2, y2 = d["box"]
                self.assertTrue(0 <= x1 <= x2 <= r["width"] and 0 <= y1 <= y2 <= r["height"], d)

    def test_matches_the_pytorch_pipeline(self):
        engine, ref = self.results()
        for got, want in zip(engine, ref):
            box, conf = compare(self, got, want, BOX_TOL, CONF_TOL)
            print(f"\n  {Path(got['image']).name}: {counts(got)}, max box diff {box:.2f} px, "
                  f"max confidence diff {conf:.4f}", file=sys.stderr)

    def test_identical_pixels_match_tightly(self):
        from PIL import Image
        pngs = []
        for p in self.photos:
            png = self.dir / (p.stem + ".png")
            Image.open(p).convert("RGB").save(png)
            pngs.append(png)
        engine, _ = detect_json(self, self.model, pngs)
        for got, want in zip(engine, reference(self.model, pngs)):
            box, conf = compare(self, got, want, TIGHT_BOX_TOL, TIGHT_CONF_TOL)
            print(f"\n  {Path(got['image']).name} (PNG): max box diff {box:.3f} px, "
                  f"max confidence diff {conf:.6f}", file=sys.stderr)

    def test_console_output_and_files(self):
        out = self.dir / "out"
        done = run(cli(), "detect", self.model, *self.photos, "--img", "640", "--out", out, "--save-txt",
                   "--threads", "2")
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertRegex(lines[0], r"^image 1/2 \S*bus\.jpg: 640x480 4 persons, 1 bus, \d+\.\dms$")
        self.assertRegex(lines[1], r"^image 2/2 \S*zidane\.jpg: 384x640 2 persons, 1 tie, \d+\.\dms$")
        self.assertRegex(lines[2], r"^Speed: [\d.]+ms decode, [\d.]+ms pre-process, [\d.]+ms inference, "
                                   r"[\d.]+ms NMS per image "
                                   r"at shape \(1, 3, 640, 640\)$")
        from PIL import Image
        for name, size in (("bus.jpg", (810, 1080)), ("zidane.jpg", (1280, 720))):
            with Image.open(out / name) as im:
                self.assertEqual(im.size, size)
        labels = (out / "labels" / "bus.txt").read_text().splitlines()
        self.assertEqual(len(labels), 5)
        for line in labels:
            cls, *values = line.split()
            self.assertIn(cls, ("0", "5"))
            self.assertEqual(len(values), 4)
            self.assertTrue(all(0 <= float(v) <= 1 for v in values), line)
        self.assertEqual(sorted(l.split()[0] for l in labels), ["0", "0", "0", "0", "5"])

    def test_options(self):
        persons, _ = detect_json(self, self.model, self.photos, "--classes", "0")
        self.assertEqual([counts(r) for r in persons], [{"person": 4}, {"person": 2}])
        by_name, _ = detect_json(self, self.model, self.photos, "--classes", "bus,tie")
        self.assertEqual([counts(r) for r in by_name], [{"bus": 1}, {"tie": 1}])
        few, _ = detect_json(self, self.model, self.photos, "--max-det", "2")
        self.assertEqual([len(r["detections"]) for r in few], [2, 2])
        strict, _ = detect_json(self, self.model, self.photos[:1], "--conf", "0.85")
        self.assertEqual(counts(strict[0]), {"person": 1})
        rounded, stderr = detect_json(self, self.model, self.photos[1:], "--img", "650", "--agnostic")
        self.assertIn("updating to 672", stderr)
        self.assertIn("at shape (1, 3, 672, 672)", stderr)
        compare(self, rounded[0], reference(self.model, self.photos[1:], img_size=650, agnostic=True)[0],
                BOX_TOL, CONF_TOL)


def write_scene(path, seed, size=(96, 128)):
    """A synthetic photo-like PNG: smooth gradients and a few bright rectangles."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    h, w = size
    img = np.zeros((h, w, 3), np.float64)
    img += np.linspace(0, 120, w)[None, :, None] + np.linspace(0, 60, h)[:, None, None]
    for _ in range(4):
        y, x = rng.integers(0, h - 20), rng.integers(0, w - 20)
        img[y:y + rng.integers(8, 20), x:x + rng.integers(8, 20)] = rng.integers(0, 256, 3)
    img += rng.normal(0, 6, img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


class TinyModelTest(CliErrorAssertions, unittest.TestCase):
    """A random 3-conv YOLOv5-style model: no ../shared needed."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-detect-tiny-")
        d = cls.dir = Path(cls.tmp.name)
        cls.model = convert_tiny_yolov5(d, 5)
        cls.images = [write_scene(d / f"scene{i}.png", i, size) for i, size in
                      enumerate(((96, 128), (120, 70), (33, 200)))]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_matches_the_pytorch_pipeline(self):
        for args, kwargs in ((("--img", "128"), dict(img_size=128)),
                             (("--img", "96", "--conf", "0.1", "--agnostic"), dict(img_size=96, conf=0.1,
                                                                                   agnostic=True))):
            engine, _ = detect_json(self, self.model, self.images, *args)
            ref = reference(self.model, self.images, **kwargs)
            self.assertGreater(sum(len(r["detections"]) for r in ref), 0, "the random model found nothing")
            for got, want in zip(engine, ref):
                compare(self, got, want, TIGHT_BOX_TOL, TIGHT_CONF_TOL)

    def test_directory_input_skips_non_images(self):
        (self.dir / "readme.txt").write_text("notes")
        try:
            results, stderr = detect_json(self, self.model, [self.dir], "--img", "64")
            self.assertEqual([r["image"] for r in results], [str(p) for p in sorted(self.images)])
            self.assertIn("skipping", stderr)
            self.assertIn("readme.txt", stderr)
        finally:
            (self.dir / "readme.txt").unlink()


    def test_no_detections_give_an_empty_list(self):
        # A flat grey image and a threshold nothing reaches: an empty list, a console line that
        # says so, no label lines; never leftover or garbage boxes.
        from PIL import Image
        flat = self.dir / "flat.png"
        Image.new("RGB", (64, 48), (114, 114, 114)).save(flat)
        out = self.dir / "none_out"
        try:
            results, _ = detect_json(self, self.model, [flat], "--img", "64", "--conf", "1",
                                     "--out", out, "--save-txt")
            self.assertEqual(results[0]["detections"], [])
            labels = out / "labels" / "flat.txt"
            self.assertFalse(labels.exists() and labels.read_text().strip(), "no label lines")
            done = run(cli(), "detect", self.model, flat, "--img", "64", "--conf", "1", "--nosave")
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertIn("(no detections)", done.stdout + done.stderr)
        finally:
            flat.unlink()

    def test_errors(self):
        import torch
        from tests.python.test_classify import random_resnet
        image = self.images[0]
        detect = (cli(), "detect", self.model, "--nosave")
        self.assertOneLineError(run(*detect, image, "--conf", "2"), "--conf", "2")
        self.assertOneLineError(run(*detect, image, "--conf", "nan"), "--conf")
        self.assertOneLineError(run(*detect, image, "--iou", "-0.1"), "--iou")
        self.assertOneLineError(run(*detect, image, "--img", "0"), "--img")
        self.assertOneLineError(run(*detect, image, "--img", "9000"), "--img")
        self.assertOneLineError(run(*detect, image, "--img", "big"), "--img")
        self.assertOneLineError(run(*detect, image, "--max-det", "0"), "--max-det")
        self.assertOneLineError(run(*detect, image, "--threads", "300"), "--threads")
        self.assertOneLineError(run(*detect, image, "--classes", "7"), "--classes 7", "2 classes")
        self.assertOneLineError(run(*detect, image, "--save-conf"), "--save-conf requires --save-txt")
        self.assertOneLineError(run(cli(), "detect", self.model, image, "--out", self.dir), image, "overwrite")
        missing = self.dir / "missing.jpg"
        self.assertOneLineError(run(*detect, missing), missing, "no such file")
        self.assertOneLineError(run(*detect, str(self.dir / "*.gif")), "no files match")
        fake = self.dir / "text.jpg"
        fake.write_text("just some text, not a JPEG\n")
        try:
            self.assertOneLineError(run(*detect, fake), fake, "not a readable")
        finally:
            fake.unlink()
        # An architecture the engine does not implement (YOLOv8's C2f): refused naming the layer.
        c2f = make_tiny_yolov5_model(seed=4)
        c2f.yaml["backbone"][1] = [-1, 1, "C2f", [128, True]]
        torch.save({"model": c2f, "ema": None}, self.dir / "c2f.pt")
        c2f_model = convert(self.dir / "c2f.pt", self.dir / "c2f.safetensors")
        self.assertOneLineError(run(*detect[:2], c2f_model, image, "--nosave"), c2f_model, "C2f")
        torch.save(random_resnet(2).state_dict(), self.dir / "resnet.pt")
        resnet = convert(self.dir / "resnet.pt", self.dir / "resnet.safetensors")
        self.assertOneLineError(run(cli(), "detect", resnet, image, "--nosave"), resnet, "spdinfer classify")


if __name__ == "__main__":
    unittest.main()
