"""Bad input, by class (issue 22), for what Python drives: the converter's files (named pipes,
"billion laughs" YAML, deep YAML) and the CLI's end-to-end contract (one line
`spdinfer: error: FILE: what is wrong`, exit status 2, quickly) for named pipes, symbolic-link
loops, JSON output of paths that are not UTF-8, the activation-memory budget, class names
holding terminal control codes and weights holding NaN.
"""

import json
import os
import shutil
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

from tests.python.cli_support import CliErrorAssertions, cli, edited_model, run
from tests.python.helpers import REPO, run_convert
from weights_tools.convert.converter import ArchitectureError, _plain_json

MODEL = REPO / "assets" / "fashion_resnet_spd.safetensors"
IMAGE = sorted((REPO / "assets" / "fashion_mnist").glob("*.png"))[0]


class ConverterBadInputTest(CliErrorAssertions, unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)
        self.fifo = self.dir / "pipe"
        os.mkfifo(self.fifo)

    def tearDown(self):
        self._tmp.cleanup()

    def assertRefused(self, done, *fragments):
        self.assertOneLineError(done, *fragments, prefix="convert: error: ")

    def tiny_checkpoint(self):
        import torch
        from tests.python.helpers import make_resnet_spd
        path = self.dir / "tiny.pt"
        torch.save(make_resnet_spd("basic", (1, 1, 1, 1), 3, width=8).state_dict(), path)
        return path

    def test_named_pipes_are_refused_not_waited_on(self):
        out = self.dir / "out.safetensors"
        self.assertRefused(run_convert(self.fifo, "-o", out), self.fifo, "not a regular file")
        self.assertRefused(run_convert(self.tiny_checkpoint(), "-o", out, "--preset", "cifar",
                                       "--names", self.fifo),
                           self.fifo, "not a regular file")
        self.assertRefused(run_convert(self.tiny_checkpoint(), "-o", out, "--yaml", self.fifo),
                           self.fifo, "not a regular file")

    def test_billion_laughs_yaml_is_refused(self):
        lines = ['a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]']
        for i in range(1, 30):
            lines.append(f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]")
        lines += ["nc: 1", "anchors: *a29", "backbone: []", "head: []"]
        laughs = self.dir / "laughs.yaml"
        laughs.write_text("\n".join(lines) + "\n")
        done = run_convert(self.tiny_checkpoint(), "-o", self.dir / "o.safetensors", "--yaml", laughs)
        self.assertRefused(done, laughs, "shared or recursive reference")

    def test_deep_yaml_is_refused_with_its_own_message(self):
        deep = self.dir / "deep.yaml"
        deep.write_text("nc: " + "[" * 50000 + "]" * 50000 + "\n")
        done = run_convert(self.tiny_checkpoint(), "-o", self.dir / "o.safetensors", "--yaml", deep)
        self.assertRefused(done, deep)
        self.assertNotIn("RecursionError", done.stderr)

    def test_pickled_yaml_with_shared_lists_is_refused(self):
        # A pickle's memo makes the same sharing as YAML aliases.
        shared = [1, 2, 3]
        for _ in range(20):
            shared = [shared, shared]
        with self.assertRaisesRegex(ArchitectureError, "shared or recursive reference"):
            _plain_json({"anchors": shared}, "yaml")
        loop = []
        loop.append(loop)
        with self.assertRaisesRegex(ArchitectureError, "shared or recursive reference"):
            _plain_json({"anchors": loop}, "yaml")
        _plain_json({"nc": 1, "anchors": [[10, 13], [10, 13]], "backbone": [], "head": []}, "yaml")


class CliBadInputTest(CliErrorAssertions, unittest.TestCase):
    def setUp(self):
        self.exe = cli()
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def test_named_pipe_image_and_labels_are_refused(self):
        fifo = self.dir / "pipe.png"
        os.mkfifo(fifo)
        self.assertOneLineError(run(self.exe, "classify", MODEL, fifo, timeout=60), fifo, "not a regular file")
        self.assertOneLineError(run(self.exe, "classify", MODEL, IMAGE, "--labels", fifo, timeout=60),
                                fifo, "not a regular file")

    def test_symlink_loops_in_a_val_dataset_end_in_one_line(self):
        root = self.dir / "root"
        (root / "Trouser").mkdir(parents=True)
        shutil.copy(IMAGE, root / "Trouser" / "a.png")
        os.symlink(root / "loop", root / "loop")
        os.symlink(root / "Trouser" / "b.png", root / "Trouser" / "b.png")
        done = run(self.exe, "val", MODEL, root, timeout=120)
        self.assertNotIn("terminate", done.stderr)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertOneLineError(run(self.exe, "val", MODEL, root / "loop", timeout=60), root / "loop")

    def test_json_output_of_a_path_that_is_not_utf8(self):
        name = os.fsencode(str(self.dir)) + b"/bad\xff.png"
        shutil.copy(IMAGE, name)
        done = subprocess.run([os.fsencode(self.exe), b"classify", os.fsencode(str(MODEL)), name, b"--json"],
                              capture_output=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("\ufffd", done.stdout.decode("utf-8"))


    def test_exif_orientation_boxes_are_in_the_upright_frame(self):
        """The bundled scene stored turned each of the 7 other ways, with the EXIF orientation
        that turns it back (lossless PNG eXIf): detect must report exactly the upright boxes."""
        from PIL import Image
        scenes = REPO / "assets" / "scenes_spd_yolov5n.safetensors"
        upright = Image.open(REPO / "assets" / "scenes" / "demo_scene.jpg").convert("RGB")
        upright.save(self.dir / "upright.png")
        # What exif_transpose applies for each orientation, undone.
        stored_as = {2: Image.FLIP_LEFT_RIGHT, 3: Image.ROTATE_180, 4: Image.FLIP_TOP_BOTTOM, 5: Image.TRANSPOSE,
                     6: Image.ROTATE_90, 7: Image.TRANSVERSE, 8: Image.ROTATE_270}

        def boxes(path):
            done = run(self.exe, "detect", scenes, path, "--json", "--nosave", timeout=120)
            self.assertEqual(done.returncode, 0, done.stderr)
            found = json.loads(done.stdout.splitlines()[-1])
            return (found["width"], found["height"]), [(d["class_id"], d["box"]) for d in found["detections"]]

        expected = boxes(self.dir / "upright.png")
        self.assertTrue(expected[1], "the bundled scene should give detections")
        for orientation, op in stored_as.items():
            exif = Image.Exif()
            exif[0x0112] = orientation
            turned = self.dir / f"turned{orientation}.png"
            upright.transpose(op).save(turned, exif=exif.tobytes())
            with self.subTest(orientation=orientation):
                self.assertEqual(boxes(turned), expected)

    def model_with(self, name, edit):
        """MODEL copied to NAME in the test directory with edit(header) applied to its
        safetensors header (a dict) and, when edit returns them, new tensor bytes."""
        return edited_model(MODEL, self.dir / name, edit)

    def test_memory_budget_names_the_model_and_the_option(self):
        done = run(self.exe, "classify", MODEL, IMAGE, "--memory-limit", "64K", timeout=60)
        self.assertOneLineError(done, f"{MODEL}: at input (1, 3, ", "limit of 64.0 KiB",
                                "--memory-limit", "SPDINFER_MEMORY_LIMIT", f"(running {IMAGE})")
        env = dict(os.environ, SPDINFER_MEMORY_LIMIT="64K")
        done = subprocess.run([self.exe, "classify", str(MODEL), str(IMAGE)], capture_output=True, text=True,
                              timeout=60, env=env)
        self.assertOneLineError(done, "limit of 64.0 KiB")
        env["SPDINFER_MEMORY_LIMIT"] = "lots"
        done = subprocess.run([self.exe, "classify", str(MODEL), str(IMAGE)], capture_output=True, text=True,
                              timeout=60, env=env)
        self.assertOneLineError(done, "SPDINFER_MEMORY_LIMIT 'lots': expected a size")
        self.assertOneLineError(run(self.exe, "detect", MODEL, IMAGE, "--memory-limit", "0", timeout=60),
                                "--memory-limit '0'")
        done = run(self.exe, "classify", MODEL, IMAGE, "--memory-limit", "1G", timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_class_names_with_terminal_codes_are_printed_safely(self):
        escape = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\u009b"
        def rename(header):
            names = json.loads(header["__metadata__"]["class_names"])
            header["__metadata__"]["class_names"] = json.dumps([escape + n for n in names])
        model = self.model_with("escapes.safetensors", rename)
        done = run(self.exe, "classify", model, IMAGE, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("\x1b", done.stdout)
        self.assertNotIn("\x07", done.stdout)
        self.assertNotIn("\u009b", done.stdout)
        self.assertIn("?]0;owned??[2J?[31mred?", done.stdout)
        done = run(self.exe, "classify", model, IMAGE, "--json", timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("\\u001b]0;owned\\u0007", done.stdout)  # escaped by JSON, intact when parsed
        self.assertTrue(json.loads(done.stdout.splitlines()[-1])["topk"][0]["class_name"].startswith(escape))

    def test_nan_weights_are_refused_naming_the_tensor(self):
        def poison(header):
            name, info = min((k, v) for k, v in header.items() if k != "__metadata__")
            data = MODEL.read_bytes()
            body = bytearray(data[8 + struct.unpack("<Q", data[:8])[0]:])
            nan = struct.pack("<e" if info["dtype"] == "F16" else "<f", float("nan"))
            body[info["data_offsets"][0]:info["data_offsets"][0] + len(nan)] = nan
            self.poisoned = name
            return bytes(body)
        model = self.model_with("nan.safetensors", poison)
        self.assertOneLineError(run(self.exe, "classify", model, IMAGE, timeout=60),
                                f"{model}: tensor '{self.poisoned}' holds NaN at index 0")


if __name__ == "__main__":
    unittest.main()
