"""`spdinfer detect` as a YOLOv5 detect.py user expects it: where results are saved
(runs/detect/exp, exp2, ..., --project, --name, --exist-ok, --out, --nosave), the label files
(5 columns that a YOLOv5-format dataset reader loads; 6 with --save-conf), distinct output names
for inputs sharing a file name or stem, the console's counting words (plurals, escaped control
characters, `1 image` in val's summary too), --print-boxes, the model's own input size as the
default, --imgsz/--img-size, and --classes by name.

What it is: the built binary on the bundled detector (assets/scenes_spd_yolov5n.safetensors, 10
Fashion-MNIST classes, input size 320) and its demo scene, each run in a fresh temporary working
directory so runs/ lands there. What it is not: a test of the boxes themselves (test_detect.py,
test_bundled_detector.py).
"""

import json
import re
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np

from tests.python.cli_support import CliErrorAssertions, cli, edited_model, run
from tests.python.helpers import REPO

MODEL = REPO / "assets" / "scenes_spd_yolov5n.safetensors"
SCENE = REPO / "assets" / "scenes" / "demo_scene.jpg"
NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot"]
# Thresholds at which the scene gives several Dresses and Sneakers.
MANY = ("--img", "640", "--conf", "0.1")


def load_yolo_labels(path, nc):
    """A label file read as YOLOv5's dataset loader (utils/dataloaders.py verify_image_label)
    checks it: rows of exactly 5 numbers, class ids whole and below nc, coordinates normalised."""
    text = Path(path).read_text().strip()
    rows = np.array([line.split() for line in text.splitlines()], dtype=np.float32) if text else \
        np.zeros((0, 5), np.float32)
    assert rows.ndim == 2 and rows.shape[1] == 5, f"labels require 5 columns, {rows.shape[1]} columns detected"
    assert (rows >= 0).all(), f"negative label values {rows[rows < 0]}"
    assert (rows[:, 1:] <= 1).all(), f"non-normalized or out of bounds coordinates {rows[:, 1:][rows[:, 1:] > 1]}"
    assert (rows[:, 0] == np.round(rows[:, 0])).all() and (rows[:, 0] < nc).all(), "bad class ids"
    return rows


class DetectConventionsTest(CliErrorAssertions, unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-conventions-")
        self.cwd = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def detect(self, *args):
        """`spdinfer detect MODEL ARGS` in the temporary working directory; must succeed."""
        done = run(cli(), "detect", MODEL, *args, cwd=self.cwd)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done

    def detections(self, *args):
        """The JSON lines of a run that saves nothing."""
        return [json.loads(line) for line in self.detect(*args, "--json", "--nosave").stdout.splitlines()]

    def runs(self):
        return sorted(p.name for p in (self.cwd / "runs" / "detect").iterdir())

    def image_copy(self, relative, flip=False):
        """The scene copied to RELATIVE in the working directory (mirrored with flip, so its
        detections differ; re-encoded as PNG for a .png name)."""
        from PIL import Image
        path = self.cwd / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(SCENE) as im:
            (im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else im).save(path)
        return relative

    def test_labels_have_5_columns_and_6_with_save_conf(self):
        done = self.detect(SCENE, *MANY, "--save-txt")
        rows = load_yolo_labels(self.cwd / "runs/detect/exp/labels/demo_scene.txt", len(NAMES))
        [result] = self.detections(SCENE, *MANY)
        w, h = result["width"], result["height"]
        self.assertEqual(len(rows), len(result["detections"]))
        self.assertGreater(len(rows), 5)
        for row, d in zip(rows, result["detections"]):  # both by descending confidence
            x1, y1, x2, y2 = d["box"]
            self.assertEqual(int(row[0]), d["class_id"])
            np.testing.assert_allclose(row[1:], [(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h],
                                       atol=1e-4)
        self.assertTrue(done.stdout.endswith("Results saved to runs/detect/exp\n"
                                             "1 label saved to runs/detect/exp/labels\n"), done.stdout)

        self.detect(SCENE, *MANY, "--save-txt", "--save-conf")
        with_conf = np.loadtxt(self.cwd / "runs/detect/exp2/labels/demo_scene.txt", ndmin=2)
        self.assertEqual(with_conf.shape, (len(rows), 6))
        np.testing.assert_allclose(with_conf[:, :5], rows, atol=1e-6)
        np.testing.assert_allclose(with_conf[:, 5], [d["confidence"] for d in result["detections"]], atol=1e-5)
        with self.assertRaisesRegex(AssertionError, "labels require 5 columns, 6 columns"):
            load_yolo_labels(self.cwd / "runs/detect/exp2/labels/demo_scene.txt", len(NAMES))
        self.assertOneLineError(run(cli(), "detect", MODEL, SCENE, "--save-conf", cwd=self.cwd),
                                "--save-conf requires --save-txt")

    def test_each_run_gets_the_next_free_directory(self):
        first = self.detect(SCENE)
        self.assertEqual(self.runs(), ["exp"])
        self.assertTrue(first.stdout.endswith("Results saved to runs/detect/exp\n"), first.stdout)
        self.assertTrue((self.cwd / "runs/detect/exp/demo_scene.jpg").is_file())
        self.assertFalse((self.cwd / "runs/detect/exp/labels").exists())
        self.assertIn("Results saved to runs/detect/exp2\n", self.detect(SCENE).stdout)
        self.detect(SCENE)
        self.assertEqual(self.runs(), ["exp", "exp2", "exp3"])
        shutil.rmtree(self.cwd / "runs/detect/exp2")  # the first free one, as YOLOv5's increment_path
        self.assertIn("Results saved to runs/detect/exp2\n", self.detect(SCENE).stdout)
        # --exist-ok: the named directory itself, again and again.
        self.detect(SCENE, "--exist-ok", "--save-txt")
        self.detect(SCENE, "--exist-ok")
        self.assertEqual(self.runs(), ["exp", "exp2", "exp3"])
        self.assertTrue((self.cwd / "runs/detect/exp/labels/demo_scene.txt").is_file())
        # --project and --name, also creating parents; a file in the way is skipped like a directory.
        self.assertIn("Results saved to out/demo/scene\n", self.detect(SCENE, "--project", "out/demo",
                                                                       "--name", "scene").stdout)
        (self.cwd / "out/demo/scene2").write_text("not a directory")
        self.assertIn("Results saved to out/demo/scene3\n", self.detect(SCENE, "--project", "out/demo",
                                                                        "--name", "scene").stdout)
        self.assertIn("Results saved to runs/detect/trial\n", self.detect(SCENE, "--name", "trial").stdout)
        self.assertOneLineError(run(cli(), "detect", MODEL, SCENE, "--name", "", cwd=self.cwd), "--name", "empty")

    def test_out_is_exactly_that_directory(self):
        for _ in range(2):
            done = self.detect(SCENE, "--out", "mine", "--save-txt")
            self.assertIn("Results saved to mine\n", done.stdout)
        self.assertEqual(sorted(p.name for p in (self.cwd / "mine").iterdir()), ["demo_scene.jpg", "labels"])
        self.assertFalse((self.cwd / "runs").exists())
        for option in (("--name", "x"), ("--project", "p"), ("--exist-ok",)):
            with self.subTest(option=option):
                self.assertOneLineError(run(cli(), "detect", MODEL, SCENE, "--out", "mine", *option, cwd=self.cwd),
                                        option[0], "--out")
        # Never over an input, whichever input it would be.
        other = self.image_copy("photos/demo_scene.jpg", flip=True)
        before = (self.cwd / other).read_bytes()
        self.assertOneLineError(run(cli(), "detect", MODEL, SCENE, other, "--out", "photos", cwd=self.cwd),
                                "photos/demo_scene.jpg", "overwrite")
        self.assertEqual((self.cwd / other).read_bytes(), before)

    def test_nosave(self):
        done = self.detect(SCENE, "--nosave")
        self.assertFalse((self.cwd / "runs").exists())
        self.assertNotIn("saved", done.stdout)
        done = self.detect(SCENE, "--nosave", "--save-txt")  # labels only, as YOLOv5
        self.assertEqual([p.name for p in (self.cwd / "runs/detect/exp").iterdir()], ["labels"])
        self.assertIn("1 label saved to runs/detect/exp/labels", done.stdout)
        # --json alone saves as any run does; stdout stays JSON lines only.
        done = self.detect(SCENE, "--json")
        self.assertEqual([json.loads(line)["image"] for line in done.stdout.splitlines()], [str(SCENE)])
        self.assertIn("Results saved to runs/detect/exp2\n", done.stderr)
        self.assertTrue((self.cwd / "runs/detect/exp2/demo_scene.jpg").is_file())

    def test_inputs_sharing_a_name_or_stem_never_overwrite_each_other(self):
        inputs = [self.image_copy("a/x.jpg"), self.image_copy("b/x.jpg", flip=True), self.image_copy("c/x.png"),
                  self.image_copy("c/X.bmp", flip=True), self.image_copy("d/x_2.jpg")]
        done = self.detect(*inputs, *MANY, "--save-txt")
        saved = self.cwd / "runs/detect/exp"
        self.assertEqual(sorted(p.name for p in saved.iterdir()),
                         sorted(["labels", "x.jpg", "x_2.jpg", "x_3.png", "X_4.bmp", "x_2_2.jpg"]))
        labels = ["x.txt", "x_2.txt", "x_3.txt", "X_4.txt", "x_2_2.txt"]  # in input order
        self.assertEqual(sorted(p.name for p in (saved / "labels").iterdir()), sorted(labels))
        self.assertIn("spdinfer: note: b/x.jpg is saved as x_2.jpg (x is taken by an earlier input)", done.stderr)
        self.assertIn("spdinfer: note: d/x_2.jpg is saved as x_2_2.jpg (x_2 is taken by an earlier input)",
                      done.stderr)
        self.assertIn("5 labels saved to runs/detect/exp/labels", done.stdout)
        # Each label file holds its own input's boxes (the mirrored copies give different ones).
        results = self.detections(*inputs, *MANY)
        for label, result in zip(labels, results):
            rows = load_yolo_labels(saved / "labels" / label, len(NAMES))
            self.assertEqual(rows[:, 0].astype(int).tolist(), [d["class_id"] for d in result["detections"]])
            self.assertAlmostEqual(float(rows[0, 1]), (result["detections"][0]["box"][0] + result["detections"][0]
                                                       ["box"][2]) / 2 / result["width"], places=4)
        self.assertNotEqual(load_yolo_labels(saved / "labels/x.txt", 10)[0, 1],
                            load_yolo_labels(saved / "labels/x_2.txt", 10)[0, 1])

    def test_counting_words(self):
        done = self.detect(SCENE, *MANY, "--nosave")
        line = done.stdout.splitlines()[0]
        self.assertRegex(line, r"^image 1/1 \S+demo_scene\.jpg: 640x640 \d+ T-shirt/tops, \d+ Trousers, .*"
                               r"\d+ Dresses, .*\d+ Sneakers, \d+ Bags, \d+ Ankle boots, \d+\.\dms$")
        self.assertNotIn("Dresss", line)
        two = self.detect(SCENE, SCENE, "--nosave", "--save-txt")
        self.assertIn("2 labels saved to", two.stdout)
        self.assertRegex(two.stdout.splitlines()[0], r": 320x320 (\d+ [^,]+, )*([2-9]|\d\d+) Sneakers, ")
        one = self.detect(SCENE, "--classes", "Sneaker", "--max-det", "1", "--nosave")
        self.assertRegex(one.stdout.splitlines()[0], r": 320x320 1 Sneaker, ")

    def test_summary_lines_count_one_image_as_one(self):
        (self.cwd / "set/labels").mkdir(parents=True)
        self.image_copy("set/images/scene.jpg")
        shutil.copy(SCENE.with_suffix(".txt"), self.cwd / "set/labels/scene.txt")
        classes = self.cwd / "classes/0"
        classes.mkdir(parents=True)
        shutil.copy(sorted((REPO / "assets/fashion_mnist").glob("*.png"))[0], classes)
        for model, data in ((MODEL, "set/images"), (REPO / "assets/fashion_resnet_spd.safetensors", "classes")):
            with self.subTest(model=model.name):
                done = run(cli(), "val", model, data, cwd=self.cwd)
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertRegex(done.stdout.splitlines()[0], r"^val: .*: 1 image, 10 classes, ")

    def test_class_names_with_control_characters_are_escaped(self):
        escape = "\x1b[31m\nred\u009b"

        def rename(header):
            names = json.loads(header["__metadata__"]["class_names"])
            header["__metadata__"]["class_names"] = json.dumps([n + escape for n in names])
        model = edited_model(MODEL, self.cwd / "escapes.safetensors", rename)
        done = run(cli(), "detect", model, SCENE, "--nosave", "--print-boxes", cwd=self.cwd)
        self.assertEqual(done.returncode, 0, done.stderr)
        for code in ("\x1b", "\u009b"):
            self.assertNotIn(code, done.stdout)
        lines = done.stdout.splitlines()
        # One line, not broken in two; no plural 's' after a name that does not end in a letter.
        self.assertRegex(lines[0], r": 320x320 (\d+ [^,]+\?\[31m\?red\?, )+\d+\.\dms$")
        self.assertRegex(lines[1], r"^    \d+ [^?]+\?\[31m\?red\? 0\.\d{3} \[")
        self.assertOneLineError(run(cli(), "detect", model, SCENE, "--classes", "nothing", cwd=self.cwd),
                                "Sneaker?[31m?red?")

    def test_print_boxes(self):
        done = self.detect(SCENE, *MANY, "--nosave", "--print-boxes")
        [result] = self.detections(SCENE, *MANY)
        lines = done.stdout.splitlines()
        boxes = lines[1:1 + len(result["detections"])]
        self.assertTrue(lines[1 + len(result["detections"])].startswith("Speed: "))
        for line, d in zip(boxes, result["detections"]):
            m = re.fullmatch(r"    (\d+) (.+) (0\.\d{3}) \[([\d.]+), ([\d.]+), ([\d.]+), ([\d.]+)\]", line)
            self.assertTrue(m, line)
            self.assertEqual((int(m[1]), m[2]), (d["class_id"], d["class_name"]))
            self.assertLessEqual(abs(float(m[3]) - d["confidence"]), 0.00051)
            np.testing.assert_allclose([float(v) for v in m.groups()[3:]], d["box"], atol=0.051)
        self.assertEqual(len(self.detect(SCENE, "--nosave").stdout.splitlines()), 2)  # counts only by default

    def test_input_size_defaults_to_the_models_and_has_yolov5s_names(self):
        done = self.detect(SCENE, "--nosave")
        self.assertRegex(done.stdout.splitlines()[0], r": 320x320 ")
        self.assertIn("at shape (1, 3, 320, 320)", done.stdout)
        self.assertNotIn("updating", done.stderr)
        for option in ("--img", "--imgsz", "--img-size"):
            with self.subTest(option=option):
                done = self.detect(SCENE, option, "100", "--nosave")
                self.assertIn("at shape (1, 3, 128, 128)", done.stdout)
                self.assertIn(f"{option} 100 must be a multiple of max stride 32, updating to 128"
                              if option == "--img" else "100 must be a multiple", done.stderr)
                # The option is named by its first name.
                self.assertOneLineError(run(cli(), "detect", MODEL, SCENE, option, "8", "--nosave"), "--img")

    def test_classes_by_id_or_name(self):
        def classes(*selection):
            [result] = self.detections(SCENE, *MANY, "--classes", *selection)
            return sorted({d["class_name"] for d in result["detections"]})
        self.assertEqual(classes("Dress,Sneaker"), ["Dress", "Sneaker"])
        self.assertEqual(classes("Sneaker"), ["Sneaker"])
        self.assertEqual(classes("3"), ["Dress"])
        self.assertEqual(classes("Sneaker, 3"), ["Dress", "Sneaker"])  # mixed, spaces trimmed
        self.assertEqual(classes("Ankle boot,7"), ["Ankle boot", "Sneaker"])  # a name with a space
        self.assertEqual(classes("Sneaker", "--classes", "Dress"), ["Dress", "Sneaker"])
        for bad, fragments in (("Dres", ("--classes Dres: no class of that name", str(MODEL), "3 Dress",
                                         "(10 in all)")),
                               ("sneaker", ("--classes sneaker",)), ("", ("--classes",)), (" ", ("--classes",)),
                               ("10", ("--classes 10", "10 classes (0-9)")), ("-1", ("--classes -1",)),
                               ("99999999999999999999", ("--classes 99999999999999999999", "0-9"))):
            with self.subTest(classes=bad):
                self.assertOneLineError(run(cli(), "detect", MODEL, SCENE, "--nosave", "--classes", bad,
                                            cwd=self.cwd), *fragments)


if __name__ == "__main__":
    unittest.main()
