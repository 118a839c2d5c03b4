"""The command line's help, its argument errors, its one input-size option, the machine-readable
output of `info` and `golden`, and the per-image stage times `detect` and `classify` share.

What it is: the built binary run end to end on the committed tiny ResNet-SPD (tests/data), its
golden file, and the bundled SPD-YOLOv5n (assets/), so no PyTorch is needed.
What it is not: a test of what the commands compute (test_classify.py, test_detect.py, ...) or of
bad numbers in every option (test_cli_arguments.py).
"""

import json
import re
import struct
import tempfile
import time
import unittest
from pathlib import Path

import numpy as np

from tests.python.cli_support import CliErrorAssertions, cli, run
from tests.python.helpers import REPO

RESNET = REPO / "tests" / "data" / "tiny_resnet_spd.safetensors"  # 32x32 input, 4 space_to_depth: stride 16
GOLDEN = REPO / "tests" / "data" / "tiny_resnet_spd.golden.safetensors"
YOLO = REPO / "assets" / "scenes_spd_yolov5n.safetensors"  # strides 8, 16, 32
SCENE = REPO / "assets" / "scenes" / "demo_scene.jpg"
IMAGES = sorted((REPO / "assets" / "fashion_mnist").glob("*.png"))[:2]

COMMANDS = ["info", "run", "golden", "val", "bench", "classify", "detect"]

# (command, option, its default as help shows it): one per option with a default of its own.
DEFAULTS = [
    ("run", "--threads", "1"), ("golden", "--ratio", "2"), ("golden", "--floor", "1e-06"),
    ("golden", "--atol", "1e-05"), ("golden", "--rtol", "0.0001"), ("golden", "--threads", "1"),
    ("val", "--split", "val"), ("val", "--conf", "0.001"), ("val", "--iou", "0.6"), ("val", "--max-det", "300"),
    ("val", "--batch", "32"), ("val", "--threads", "1"), ("val", "--img", "the model's"),
    ("val", "--overlap", "0.2"), ("val", "--tile-batch", "8"),
    ("bench", "--batch", "1"), ("bench", "--threads", "1"), ("bench", "--runs", "20"), ("bench", "--warmup", "3"),
    ("bench", "--size", "the model's"),
    ("classify", "--topk", "5"), ("classify", "--threads", "1"), ("classify", "--size", "the model's"),
    ("classify", "--labels", "the model's"), ("classify", "--resize", "the model's"),
    ("detect", "--img", "the model's"), ("detect", "--conf", "0.25"), ("detect", "--iou", "0.45"),
    ("detect", "--max-det", "1000"), ("detect", "--threads", "1"), ("detect", "--merge", "nmm"),
    ("detect", "--full-pass", "on"), ("detect", "--merge-thres", "0.5"),
    ("detect", "--memory-limit", "2G, or $SPDINFER_MEMORY_LIMIT"),
]


def write_golden_input(source, target, x):
    """`source`'s golden-file metadata with only the tensor `input` = x, written to `target`
    (safetensors: 8-byte header length, JSON header, data)."""
    raw = Path(source).read_bytes()
    metadata = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]]).get("__metadata__", {})
    data = x.astype(np.float32).tobytes()
    header = json.dumps({"__metadata__": metadata,
                         "input": {"dtype": "F32", "shape": list(x.shape), "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    Path(target).write_bytes(struct.pack("<Q", len(header)) + header + data)


def help_entry(text, option):
    """The help's entry for `option`: its line and, when CLI11 wraps the description, the next."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if option in re.split(r"[ ,]+", line.strip().split("  ")[0]):
            return line + (" " + lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith(" " * 20)
                           else "")
    raise AssertionError(f"{option} not in help:\n{text}")


class CliHelpTest(CliErrorAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-help-")
        cls.dir = Path(cls.tmp.name)
        cls.help = {}
        for command in COMMANDS:
            done = run(cli(), command, "--help")
            assert done.returncode == 0, done.stderr
            cls.help[command] = done.stdout

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def json_lines(self, *args):
        done = run(cli(), *args, "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        return [json.loads(line) for line in done.stdout.splitlines()]

    # Help

    def test_every_default_is_shown_the_same_way(self):
        for command, option, default in DEFAULTS:
            with self.subTest(command=command, option=option):
                self.assertIn(f"(default: {default})", help_entry(self.help[command], option))

    def test_no_cli11_markers_in_help(self):
        for command, text in self.help.items():
            with self.subTest(command=command):
                self.assertNotIn("{false}", text)  # the negated flag's value, not a default
                self.assertNotRegex(text, r"\S=\S")  # CLI11's "--conf FLOAT=0.25"
                self.assertNotIn("INT:INT", text)
                self.assertNotRegex(text, r"\(default [^:]")  # every default as "(default: X)"
        self.assertIn("--full-pass, --no-full-pass", self.help["detect"])
        self.assertIn("--no-layers", self.help["info"])

    def test_bare_spdinfer_prints_the_overview(self):
        done = run(cli())
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr, "")
        self.assertIn("Usage: spdinfer", done.stdout)
        for command in COMMANDS:
            self.assertRegex(done.stdout, rf"\n  {command} ")
        self.assertIn("spdinfer COMMAND --help", done.stdout)

    # Errors

    def test_argument_errors_point_at_the_commands_help(self):
        needs = {"info": [RESNET], "run": [RESNET, "--input", "x.npy", "--output", "y.npy"], "golden": [RESNET, GOLDEN],
                 "val": [RESNET, self.dir], "bench": [RESNET], "classify": [RESNET, *IMAGES], "detect": [YOLO, SCENE]}
        for command in COMMANDS:
            with self.subTest(command=command):
                done = run(cli(), command, *needs[command], "--no-such-option")
                self.assertOneLineError(done, "--no-such-option")
                self.assertTrue(done.stderr.rstrip().endswith(f"(see spdinfer {command} --help)"), done.stderr)
        done = run(cli(), "classify", RESNET)  # no images
        self.assertOneLineError(done, "images", "(see spdinfer classify --help)")
        for args in (["--no-such-option"], ["--threads", "2", "detect", YOLO, SCENE]):
            with self.subTest(args=args):
                self.assertOneLineError(run(cli(), *args), f"unknown option '{args[0]}'", "(see spdinfer --help)")

    def test_argument_errors_found_by_the_command_point_at_its_help_too(self):
        done = run(cli(), "classify", RESNET, IMAGES[0], "--size", "100")
        self.assertOneLineError(done, "--size 100", "(see spdinfer classify --help)")
        done = run(cli(), "bench", RESNET, "--plot", self.dir / "chart.jpg", "--per-layer")
        self.assertOneLineError(done, "--plot", "(see spdinfer bench --help)")

    # One input-size option

    def test_every_size_name_takes_n_or_hxw(self):
        expected = self.json_lines("classify", RESNET, *IMAGES, "--size", "48x64")
        for name in ("--img", "--imgsz", "--img-size"):
            with self.subTest(name=name):
                done = run(cli(), "classify", RESNET, *IMAGES, name, "48x64")
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertIn(": 48x64 ", done.stdout)
                topk = [line["topk"] for line in self.json_lines("classify", RESNET, *IMAGES, name, "48x64")]
                self.assertEqual(topk, [line["topk"] for line in expected])
        square = self.json_lines("bench", RESNET, "--img", "48", "--runs", "1", "--warmup", "0")
        self.assertEqual(square[0]["shape"], [1, 3, 48, 48])
        dataset = self.dir / "classes"  # one image in each of two class folders, named by class number
        for label, image in zip("01", IMAGES):
            (dataset / label).mkdir(parents=True)
            (dataset / label / image.name).write_bytes(image.read_bytes())
        [val] = self.json_lines("val", RESNET, dataset, "--size", "48x64")
        self.assertEqual((val["input"], val["images"]), ([48, 64], 2))

    def test_a_detector_takes_one_size_in_val(self):
        self.assertOneLineError(run(cli(), "val", YOLO, self.dir, "--img", "320x640"), "--img 320x640", "not HxW")

    def test_sizes_the_model_cannot_take_name_its_stride(self):
        cases = [
            (("classify", RESNET, IMAGES[0], "--img", "40"), "--size 40", "multiple of 16", "32 or 48"),
            (("classify", RESNET, IMAGES[0], "--size", "32x40"), "--size 32x40", "multiple of 16", "40 is not"),
            (("bench", YOLO, "--size", "100", "--runs", "1"), "--size 100", "multiple of 32", "96 or 128"),
            (("val", RESNET, self.dir, "--img", "8"), "--img 8", "multiple of 16", "16 would do"),
        ]
        for args, *fragments in cases:
            with self.subTest(args=args):
                self.assertOneLineError(run(cli(), *args), *fragments, "(the model's stride)")
        npy = self.dir / "x.npy"
        np.save(npy, np.zeros((1, 3, 40, 32), np.float32))
        # A tensor file's shape is the file's fault: named, without a pointer to the help.
        done = run(cli(), "run", RESNET, "--input", npy, "--output", self.dir / "y.npy")
        self.assertOneLineError(done, f"{npy}: input shape (1, 3, 40, 32): each side must be a multiple of 16")
        self.assertNotIn("--help", done.stderr)
        golden = self.dir / "golden_24.safetensors"
        write_golden_input(GOLDEN, golden, np.zeros((1, 3, 24, 24), np.float32))
        self.assertOneLineError(run(cli(), "golden", RESNET, golden),
                                f"{golden}: input shape (1, 3, 24, 24): each side must be a multiple of 16")

    # Machine-readable info and golden

    def test_info_json(self):
        [info] = self.json_lines("info", RESNET)
        self.assertEqual(set(info), {"model", "family", "architecture", "parameters", "stored_tensors", "precision",
                                     "int8_convolutions", "input", "classes", "source", "machine", "layers"})
        self.assertEqual(info["family"], "resnet_spd")
        self.assertEqual(set(info["input"]), {"height", "width", "multiple", "resize", "scale", "mean", "std"})
        self.assertEqual((info["input"]["height"], info["input"]["width"], info["input"]["multiple"]), (32, 32, 16))
        self.assertEqual(len(info["classes"]), 5)
        self.assertEqual(set(info["layers"]), {"input", "activation_mb", "activation_mb_without_reuse", "gflop",
                                               "nodes"})
        self.assertEqual(set(info["layers"]["nodes"][0]), {"name", "op", "output", "parameters", "method"})
        self.assertEqual(sum(n["parameters"] for n in info["layers"]["nodes"]), info["parameters"])
        self.assertEqual(info["layers"]["nodes"][-1]["output"], [1, 5])
        [short] = self.json_lines("info", YOLO, "--no-layers")
        self.assertNotIn("layers", short)
        self.assertEqual((short["family"], short["input"]["multiple"]), ("yolov5", 32))

    def test_golden_json(self):
        [report] = self.json_lines("golden", RESNET, GOLDEN)
        self.assertEqual(set(report), {"model", "golden", "rule", "thresholds", "layers", "failed", "pass"})
        self.assertEqual((report["failed"], report["pass"]), (0, True))
        text = run(cli(), "golden", RESNET, GOLDEN).stdout
        self.assertIn(f"{len(report['layers'])} layers, 0 failed", text)
        layer = report["layers"][-1]
        self.assertEqual(layer["layer"], "fc")
        self.assertEqual(layer["shape"], [2, 5])
        self.assertTrue(layer["pass"])
        self.assertGreaterEqual(layer["max_abs_error"], 0)
        # A failing comparison: still one JSON object, and status 1.
        done = run(cli(), "golden", RESNET, GOLDEN, "--fp32", "--atol", "0", "--rtol", "0", "--json")
        strict = json.loads(done.stdout)
        self.assertEqual(strict["rule"], "fp32")
        self.assertEqual(strict["thresholds"], {"atol": 0, "rtol": 0})
        self.assertEqual(done.returncode, 1 if strict["failed"] else 0)
        self.assertEqual(strict["pass"], strict["failed"] == 0)

    # Stage times

    def check_stage_times(self, lines, post_key, wall_ms):
        for line in lines:
            ms = line["ms"]
            self.assertEqual(set(ms), {"decode", "preprocess", "inference", post_key})
            self.assertTrue(all(isinstance(v, (int, float)) and v >= 0 for v in ms.values()), ms)
            self.assertGreater(ms["inference"], 0)
        total = sum(sum(line["ms"].values()) for line in lines)
        self.assertLess(total, wall_ms)  # the stages are parts of the run, not overlapping or repeated

    def test_classify_and_detect_time_the_same_stages(self):
        start = time.monotonic()
        lines = self.json_lines("classify", RESNET, *IMAGES)
        self.check_stage_times(lines, "postprocess", 1000 * (time.monotonic() - start))
        start = time.monotonic()
        lines = self.json_lines("detect", YOLO, SCENE, "--img", "128", "--nosave")
        self.check_stage_times(lines, "nms", 1000 * (time.monotonic() - start))
        detect = ("detect", YOLO, SCENE, "--img", "128", "--nosave")
        for args, post in ((("classify", RESNET, *IMAGES), "post-process"), (detect, "NMS")):
            with self.subTest(command=args[0]):
                done = run(cli(), *args)
                speed = [line for line in done.stdout.splitlines() if line.startswith("Speed:")]
                self.assertEqual(len(speed), 1, done.stdout)
                self.assertRegex(speed[0], rf"^Speed: [\d.]+ms decode, [\d.]+ms pre-process, "
                                           rf"[\d.]+ms inference, [\d.]+ms {post} per image at")


if __name__ == "__main__":
    unittest.main()
