"""Every numeric option of every `spdinfer` command, given non-numeric, negative, zero, NaN,
infinite or absurd values; unknown options; missing or unwritable output paths.

What it is: the built binary run end to end (so also under scripts/test's sanitized pass), each
bad value required to give exactly one line `spdinfer: error: ...` naming the option (or the
file), exit status 2 and nothing on stdout; values that are valid (a zero where zero means
something) required to be accepted. Models: the committed tests/data/tiny_resnet_spd.safetensors,
and a tiny random YOLOv5 converted here (needs PyTorch, as the other CLI tests do).
What it is not: a test of what the commands compute (test_classify.py, test_detect.py, ...).
"""

import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np

from tests.python.cli_support import CliErrorAssertions, cli, convert_tiny_yolov5, run
from tests.python.helpers import REPO

RESNET = REPO / "tests" / "data" / "tiny_resnet_spd.safetensors"
GOLDEN = REPO / "tests" / "data" / "tiny_resnet_spd.golden.safetensors"
IMAGE = sorted((REPO / "assets" / "fashion_mnist").glob("*.png"))[0]

# Bad in every numeric option ("0" only where zero is not meaningful, see ZERO_IS_VALID).
# (CLI11 reads "0x10" as 16 and "0b11" as 3: valid integers.)
BAD_VALUES = ["abc", "1x", "", "-1", "nan", "-nan", "inf", "-inf", "1e30", "99999999999999999999"]
ZERO_IS_VALID = {("bench", "--warmup"), ("golden", "--atol"), ("golden", "--rtol"),
                 ("detect", "--conf"), ("detect", "--iou"), ("detect", "--classes"),
                 ("val", "--conf"), ("val", "--iou"),
                 ("detect", "--overlap"), ("detect", "--merge-thres"), ("val", "--overlap"), ("val", "--merge-thres")}
# Sliced inference's numeric options (detect and val), given with --slice: alone they are an error
# of their own (tests/python/test_sliced_detect.py).
SLICE_OPTIONS = ["--overlap", "--merge-thres", "--tile-batch"]


class CliArgumentsTest(CliErrorAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-args-")
        d = cls.dir = Path(cls.tmp.name)
        cls.yolo = convert_tiny_yolov5(d, 3)
        cls.npy = d / "x.npy"
        np.save(cls.npy, np.zeros((1, 3, 32, 32), np.float32))
        cls.file = d / "a_file"
        cls.file.write_text("not a directory\n")
        # Two class folders (named by class number) of the 5-class model, for val.
        cls.dataset = d / "classes"
        for label in ("0", "1"):
            (cls.dataset / label).mkdir(parents=True)
            shutil.copy(IMAGE, cls.dataset / label / IMAGE.name)
        # Each command: the arguments it needs to run, options with values it runs quickly with
        # (left out when that option is the one tested), and its numeric options.
        cls.commands = {
            "classify": ([RESNET, IMAGE], {}, ["--topk", "--threads", "--size"]),
            "detect": ([cls.yolo, IMAGE, "--nosave"], {"--img": "64"}, ["--img", "--conf", "--iou", "--max-det", "--classes",
                                                           "--threads"]),
            "golden": ([RESNET, GOLDEN], {}, ["--atol", "--rtol", "--threads"]),
            "run": ([RESNET, "--input", cls.npy, "--output", d / "y.npy"], {}, ["--threads"]),
            "bench": ([RESNET], {"--runs": "1", "--warmup": "0"}, ["--batch", "--threads", "--runs", "--warmup",
                                                                   "--size"]),
            "val": ([RESNET, cls.dataset], {}, ["--img", "--conf", "--iou", "--max-det", "--batch", "--threads"]),
        }

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def spdinfer(self, command, option=None, *values):
        base, quick, _ = self.commands[command]
        args = [*base]
        for name, value in quick.items():
            if name != option:
                args += [name, value]
        if option is not None:
            args += [option, *values]
        return run(cli(), command, *args)

    def test_bad_numbers_are_one_line_errors_naming_the_option(self):
        for command, (_, _, options) in self.commands.items():
            for option in options:
                values = BAD_VALUES if (command, option) in ZERO_IS_VALID else BAD_VALUES + ["0"]
                if option == "--size":
                    values = [v for v in values if v != ""]  # --size "" means the model's size
                for value in values:
                    with self.subTest(command=command, option=option, value=value):
                        self.assertOneLineError(self.spdinfer(command, option, value), option)

    def test_bad_slicing_numbers_are_one_line_errors_naming_the_option(self):
        for command in ("detect", "val"):
            for value in BAD_VALUES + ["0"]:
                with self.subTest(command=command, option="--slice", value=value):
                    self.assertOneLineError(self.spdinfer(command, "--slice", value), "--slice")
            for option in SLICE_OPTIONS:
                values = BAD_VALUES if (command, option) in ZERO_IS_VALID else BAD_VALUES + ["0"]
                for value in values:
                    with self.subTest(command=command, option=option, value=value):
                        self.assertOneLineError(self.spdinfer(command, "--slice", "64", option, value), option)

    def test_zero_where_it_means_something_is_accepted(self):
        for command, option in sorted(ZERO_IS_VALID):
            if command == "val":
                continue  # needs a detection dataset: tests/python/test_detection_val.py
            with self.subTest(command=command, option=option):
                slicing = ["--slice", "64"] if option in SLICE_OPTIONS else []
                done = self.spdinfer(command, *slicing, option, "0")
                # golden exits 1 when a layer misses a zero tolerance; that is a result, not an error.
                self.assertIn(done.returncode, (0, 1), done.stderr)
                self.assertNotIn("spdinfer: error", done.stderr)

    def test_sizes_out_of_range(self):
        for command in ("classify", "bench"):
            for size in ("0x5", "5x0", "-3x4", "8193x8", "8x8193", "65536", "axb", "3x", "x3", "1x2x3"):
                with self.subTest(command=command, size=size):
                    self.assertOneLineError(self.spdinfer(command, "--size", size), "--size")

    def test_bench_beyond_memory_is_refused_before_allocating(self):
        # 4096 x 3 x 8192 x 8192 floats is 3.3 TB: named with the model file, not a bad_alloc (or,
        # in the sanitized build, an allocator abort). The activation-memory budget refuses it while
        # planning; raised past the machine's memory, the machine's size does.
        self.assertOneLineError(run(cli(), "bench", RESNET, "--batch", "4096", "--size", "8192x8192"),
                                f"{RESNET}: at input (4096, 3, 8192, 8192): ", "TiB", "more than the limit of 2.0 GiB",
                                "--memory-limit")
        self.assertOneLineError(run(cli(), "bench", RESNET, "--batch", "64", "--size", "8192x8192",
                                    "--memory-limit", "1T"), str(RESNET), "GB", "more than this machine")

    def test_unknown_options_and_missing_values(self):
        for command in self.commands:
            with self.subTest(command=command):
                self.assertOneLineError(self.spdinfer(command, "--no-such-option"), "--no-such-option")
                self.assertOneLineError(self.spdinfer(command, "--threads"), "--threads")  # no value
        self.assertOneLineError(run(cli(), "no-such-command"), "unknown command 'no-such-command'")

    def test_missing_or_unwritable_outputs(self):
        under_file = self.file / "sub"  # a path below a regular file: never creatable, even as root
        self.assertOneLineError(self.spdinfer("detect", "--save-txt", "--project", under_file), str(under_file))
        self.assertOneLineError(self.spdinfer("detect", "--save-txt", "--project", self.file), str(self.file))
        self.assertOneLineError(self.spdinfer("detect", "--save-txt", "--out", under_file), str(under_file))
        self.assertOneLineError(self.spdinfer("detect", "--save-txt", "--out", self.file), str(self.file))
        self.assertOneLineError(self.spdinfer("detect", "--out"), "--out")  # no value
        self.assertOneLineError(run(cli(), "run", RESNET, "--input", self.npy, "--output", under_file / "y.npy"),
                                str(under_file / "y.npy"))
        self.assertOneLineError(run(cli(), "run", RESNET, "--input", self.npy), "--output")
        self.assertOneLineError(self.spdinfer("val", "--predictions", under_file / "p.txt"), str(under_file))


if __name__ == "__main__":
    unittest.main()
