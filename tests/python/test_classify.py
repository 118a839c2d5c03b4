"""End-to-end tests of `spdinfer classify` against the PyTorch reference pipeline.

What it is: a small random ResNet-SPD (basic blocks [1,1,1,1], width 8, 10 classes, random
BatchNorm statistics) built with weights_tools.reference, saved as a state_dict and converted
(CIFAR preset, and once with the Tiny-ImageNet preset); PNG images written with PIL; the
engine's --json top-k compared with weights_tools.reference.pipeline.classify on the same file.
Images of the model's input size need no resizing, so that comparison is tight; an image that
needs resizing is compared loosely (the two resizers round differently by a grey level at most).
Also: text output, --labels, directories and globs, and the one-line errors with exit status 2.
What it is not: a test of real trained accuracy (no trained classifier ships with the project)
and needs nothing from ../shared.
"""

import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from tests.python.cli_support import CliErrorAssertions, cli, convert, convert_tiny_yolov5, run

TIGHT = 1e-4  # probabilities, same input pixels
LOOSE = 0.005  # probabilities, after resizing (1e-4 seen)


def random_resnet(seed):
    import torch
    from weights_tools.reference import resnet_spd
    torch.manual_seed(seed)
    net = resnet_spd(block="basic", layers=(1, 1, 1, 1), num_classes=10, base_width=8)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        net.fc.weight.mul_(8)  # spread the probabilities so top-k order means something
    return net.eval()


def write_png(path, array):
    from PIL import Image
    Image.fromarray(array).save(path)
    return path


class ClassifyTest(CliErrorAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        import torch
        cls.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-classify-")
        d = cls.dir = Path(cls.tmp.name)
        torch.save(random_resnet(1).state_dict(), d / "resnet.pt")
        cls.names = [f"thing{i}" for i in range(10)]
        (d / "names.txt").write_text("\n".join(cls.names) + "\n")
        cls.cifar = convert(d / "resnet.pt", d / "cifar.safetensors", "--names", d / "names.txt")
        cls.tiny = convert(d / "resnet.pt", d / "tiny.safetensors", "--preset", "tinyimagenet")
        rng = np.random.default_rng(7)
        cls.images = d / "images"
        cls.images.mkdir()
        cls.exact = []
        for i in range(3):
            # Smooth-ish images: noise plus a gradient, like photos rather than static.
            base = np.linspace(0, 200, 32)[None, :, None] + rng.integers(0, 56, (32, 32, 3))
            cls.exact.append(write_png(cls.images / f"img{i}.png", base.astype(np.uint8)))
        cls.big = write_png(d / "big.png", rng.integers(0, 256, (50, 70, 3), dtype=np.uint8))
        cls.tiny_exact = write_png(d / "t64.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
        cls.tiny_big = write_png(d / "t100.png", rng.integers(0, 256, (80, 100, 3), dtype=np.uint8))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def classify_json(self, model, *args):
        done = run(cli(), "classify", model, *args, "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        return [json.loads(line) for line in done.stdout.splitlines()]

    def reference(self, model_path, image):
        from weights_tools.reference import load
        from weights_tools.reference.pipeline import classify
        model, meta = load(str(model_path))
        return {e["class_id"]: e["probability"] for e in classify(model, meta, image, topk=10)["topk"]}

    def assertTopKMatches(self, got, want, k, tol):
        self.assertEqual(len(got["topk"]), k)
        kth = sorted(want.values(), reverse=True)[k - 1]
        previous = 1.0
        for entry in got["topk"]:
            c = entry["class_id"]
            self.assertAlmostEqual(entry["probability"], want[c], delta=tol, msg=f"class {c}")
            self.assertGreaterEqual(entry["probability"], kth - tol, "not among the reference top-k")
            self.assertLessEqual(entry["probability"], previous + 1e-12, "top-k not sorted")
            previous = entry["probability"]
        return max(abs(e["probability"] - want[e["class_id"]]) for e in got["topk"])

    def test_input_sized_images_match_torch_tightly(self):
        lines = self.classify_json(self.cifar, *self.exact, "--topk", "5", "--threads", "2")
        self.assertEqual([l["image"] for l in lines], [str(p) for p in self.exact])
        for line, image in zip(lines, self.exact):
            self.assertTopKMatches(line, self.reference(self.cifar, image), 5, TIGHT)
            self.assertEqual(line["topk"][0]["class_name"], self.names[line["topk"][0]["class_id"]])
            self.assertEqual(set(line["ms"]), {"decode", "preprocess", "inference", "postprocess"})
            self.assertTrue(all(ms >= 0 for ms in line["ms"].values()), line["ms"])
            self.assertEqual(set(line), {"image", "topk", "ms"})
            self.assertEqual(set(line["topk"][0]), {"class_id", "class_name", "probability"})

    def test_resized_image_matches_loosely(self):
        (line,) = self.classify_json(self.cifar, self.big, "--topk", "3")
        self.assertTopKMatches(line, self.reference(self.cifar, self.big), 3, LOOSE)

    def test_tinyimagenet_preset_resize_crop(self):
        # 0-255 scale with the Tiny-ImageNet statistics; 64x64 exact, 100x80 resized + cropped.
        (exact,) = self.classify_json(self.tiny, self.tiny_exact, "--topk", "10")
        self.assertTopKMatches(exact, self.reference(self.tiny, self.tiny_exact), 10, TIGHT)
        self.assertAlmostEqual(sum(e["probability"] for e in exact["topk"]), 1.0, delta=1e-4)
        (big,) = self.classify_json(self.tiny, self.tiny_big, "--topk", "3")
        self.assertTopKMatches(big, self.reference(self.tiny, self.tiny_big), 3, LOOSE)

    def test_text_output_labels_and_sizes(self):
        labels = self.dir / "labels.txt"
        labels.write_text("".join(f"label{i}\n" for i in range(10)))
        done = run(cli(), "classify", self.cifar, self.exact[0], "--labels", labels, "--topk", "2")
        self.assertEqual(done.returncode, 0, done.stderr)
        first, speed = done.stdout.splitlines()
        self.assertRegex(first, r"^image 1/1 .*img0\.png: 32x32 label\d \d\.\d\d, label\d \d\.\d\d, [\d.]+ms$")
        self.assertRegex(speed, r"^Speed: .* per image at shape \(1, 3, 32, 32\)$")
        done = run(cli(), "classify", self.cifar, self.big, "--size", "64", "--resize", "resize_crop")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(": 64x64 ", done.stdout)

    def test_directories_and_globs(self):
        (self.images / "notes.txt").write_text("not an image")
        try:
            lines = self.classify_json(self.cifar, self.images)
            self.assertEqual([l["image"] for l in lines], [str(p) for p in sorted(self.exact)])
            done = run(cli(), "classify", self.cifar, str(self.images / "*"), "--json")
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(len(done.stdout.splitlines()), 3)
            self.assertIn("notes.txt", done.stderr)
            self.assertIn("skipping", done.stderr)
        finally:
            (self.images / "notes.txt").unlink()


    def test_errors(self):
        self.assertOneLineError(run(cli(), "classify", self.cifar, self.exact[0], "--topk", "0"), "--topk")
        self.assertOneLineError(run(cli(), "classify", self.cifar, self.exact[0], "--threads", "0"), "--threads")
        missing = self.dir / "missing.png"
        self.assertOneLineError(run(cli(), "classify", self.cifar, missing), missing, "no such file")
        fake = self.dir / "fake.jpg"
        fake.write_text("hello, I am text\n")
        self.assertOneLineError(run(cli(), "classify", self.cifar, fake), fake, "not a readable")
        short = self.dir / "short.txt"
        short.write_text("a\nb\n")
        self.assertOneLineError(run(cli(), "classify", self.cifar, self.exact[0], "--labels", short), short,
                                "2 labels")
        self.assertOneLineError(run(cli(), "classify", self.cifar, self.exact[0], "--size", "axb"), "--size")
        yolo = convert_tiny_yolov5(self.dir, 3)
        self.assertOneLineError(run(cli(), "classify", yolo, self.exact[0]), yolo, "spdinfer detect")
        self.assertOneLineError(run(cli(), "classify", self.dir / "nope.safetensors", self.exact[0]),
                                "nope.safetensors")


if __name__ == "__main__":
    unittest.main()
