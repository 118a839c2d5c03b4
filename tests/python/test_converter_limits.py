"""Bad input, round 2, for the converter: each class of crafted checkpoint, argument and YAML
ends in one line `convert: error: FILE: what is wrong` and exit status 2, within 30 s and a
2 GiB address space (RLIMIT_AS on the converter's process):
  - memory bombs: zip members that inflate far past the file (or past what their header says),
    tensor views with zero or overlapping strides, one storage written out under many names;
  - --input-size the engine would refuse (too large, not a multiple of the model's stride);
  - weak messages: bad YAML blamed on the YAML file, legacy (pre-1.6) streams read or named as
    legacy with how to re-save them, any unforeseen exception as one line naming the input;
  - the inputs the checkpoint fuzzer (tests/fuzz/fuzz_checkpoint.py) once got wrong.
torch is used only to write the test files.
"""

import io
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import zipfile
from contextlib import redirect_stderr
from pathlib import Path
from unittest import mock

import torch
import yaml

from tests.python.cli_support import CliErrorAssertions
from tests.python.helpers import REPO, TINY_YOLO_YAML, make_resnet_spd, make_tiny_yolov5_model
from tests.fuzz.fuzz_checkpoint import declare_member_size
from tests.python.test_checkpoint_safety import StorageRef, pickle_with_storages, tensor_ref, write_zip
from weights_tools.convert import main
from weights_tools.convert.checkpoint import CheckpointError, load_checkpoint
from weights_tools.convert.read_budget import MAX_PICKLE_BYTES
from weights_tools.convert.safetensors_io import read_safetensors

MEMORY_LIMIT = 2 << 30
TIME_LIMIT = 30
REGRESSIONS = REPO / "tests" / "fuzz" / "regressions" / "checkpoint"


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_convert_bounded(*args):
    """`python -m weights_tools.convert ARGS` in a 2 GiB address space; (CompletedProcess,
    seconds). A bomb that gets past the checks dies of MemoryError or the timeout instead."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "weights_tools.convert", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=TIME_LIMIT * 2,
                          preexec_fn=_limit_memory)
    return done, time.monotonic() - start


def deflated_zip(path, members):
    """A zip whose members (name -> bytes) are deflated: what a re-zipped or crafted checkpoint
    has (torch.save stores them uncompressed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members.items():
            z.writestr(name, data)


class ConverterLimitsTest(CliErrorAssertions, unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)
        self.out = self.dir / "out.safetensors"

    def tearDown(self):
        self._tmp.cleanup()

    def assertRefused(self, args, *fragments):
        done, seconds = run_convert_bounded(*args)
        self.assertOneLineError(done, *fragments, prefix="convert: error: ")
        self.assertNotIn("MemoryError", done.stderr)
        self.assertLess(seconds, TIME_LIMIT)
        self.assertFalse(self.out.exists())
        return done.stderr

    def resnet_checkpoint(self, name="resnet.pt", **save):
        path = self.dir / name
        torch.save(make_resnet_spd("basic", (1, 1, 1, 1), 10, width=8).state_dict(), path, **save)
        return path

    # ---- 1. memory bombs ----

    def test_storage_member_that_inflates_far_past_the_file_is_refused(self):
        bomb = self.dir / "bomb.pt"
        numel = 64 << 20  # 256 MiB of zeros deflate to about 250 KiB
        pickled = pickle_with_storages(
            {"w": tensor_ref(StorageRef(torch.FloatStorage, "0", numel), 0, (numel,), (1,))})
        deflated_zip(bomb, {"archive/data.pkl": pickled, "archive/data/0": bytes(numel * 4)})
        self.assertLess(bomb.stat().st_size, 2 << 20)
        self.assertRefused([bomb, "-o", self.out], bomb, "archive/data/0", "more than 32x",
                           "zip bomb")

    def test_data_pkl_over_its_limit_is_refused_before_inflating(self):
        bomb = self.dir / "pickle_bomb.pt"
        deflated_zip(bomb, {"archive/data.pkl": b"}" * (40 << 20) + b"."})
        self.assertRefused([bomb, "-o", self.out], bomb, "archive/data.pkl", "more than the")
        # Just under the limit, the costliest opcode (a dict from each byte) still fits.
        write_zip(bomb, b"\x80\x02" + b"}" * (MAX_PICKLE_BYTES - 3) + b".")
        self.assertRefused([bomb, "-o", self.out], bomb, "not a state_dict")

    def test_member_that_inflates_past_its_declared_size_is_refused(self):
        liar = self.dir / "liar.pt"
        numel = 16 << 20
        pickled = pickle_with_storages(
            {"w": tensor_ref(StorageRef(torch.FloatStorage, "0", 4), 0, (4,), (1,))})
        deflated_zip(liar, {"archive/data.pkl": pickled, "archive/data/0": bytes(numel * 4)})
        liar.write_bytes(declare_member_size(liar.read_bytes(), "archive/data/0", 16))
        self.assertRefused([liar, "-o", self.out], liar, "corrupt or truncated zip")

    def test_absolute_cap_is_an_option(self):
        big = self.resnet_checkpoint()
        self.assertRefused([big, "-o", self.out, "--max-checkpoint-bytes", "64k"], big,
                           "over the limit of 64.0 KiB", "--max-checkpoint-bytes")
        done, _ = run_convert_bounded(big, "-o", self.out, "--max-checkpoint-bytes", "1G")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertOneLineErrorArg("--max-checkpoint-bytes", "lots", "expected a size")

    def assertOneLineErrorArg(self, option, value, fragment):
        done, _ = run_convert_bounded(self.resnet_checkpoint(), "-o", self.out, option, value)
        self.assertOneLineError(done, option, fragment, prefix="convert: error: ")

    def test_zero_and_overlapping_strides_cannot_repeat_a_storage_into_gigabytes(self):
        cases = {
            "zero.pt": ((100_000_000, 6), (0, 0), 1),  # 549 bytes in, 2.4 GB out before
            "overlap.pt": ((100_000, 10_000), (1, 1), 110_000),
        }
        for name, (size, stride, numel) in cases.items():
            path = self.dir / name
            write_zip(path, pickle_with_storages(
                {"w": tensor_ref(StorageRef(torch.FloatStorage, "0", numel), 0, size, stride)}),
                {"0": bytes(4 * numel)})
            self.assertRefused([path, "-o", self.out], path, "zero or overlapping strides",
                               f"size {list(size)}")
        # A small expanded view (what `expand` makes) is still read, within the slack.
        small = self.dir / "expanded.pt"
        torch.save({"b": torch.randn(3, 1).expand(3, 4)}, small)
        self.assertEqual(load_checkpoint(small)["b"].shape, (3, 4))

    def test_many_views_of_one_storage_are_bounded_too(self):
        path = self.dir / "views.pt"
        numel = 1 << 20
        storage = StorageRef(torch.FloatStorage, "0", numel)
        write_zip(path, pickle_with_storages(
            {f"w{i}": tensor_ref(storage, 0, (numel,), (1,)) for i in range(250)}),
            {"0": bytes(4 * numel)})
        with self.assertRaisesRegex(CheckpointError, "zero or overlapping strides"):
            load_checkpoint(path)

    def test_one_storage_written_under_many_names_is_refused(self):
        model = make_tiny_yolov5_model(seed=1)
        state = model.state_dict()
        big = torch.zeros(1 << 20, dtype=torch.float16)  # one 2 MiB storage, pickled once
        for i in range(250):
            state[f"model.0.copy{i}"] = big
        path = self.dir / "memo.pt"
        torch.save({"model": state, "yaml": TINY_YOLO_YAML}, path)
        self.assertLess(path.stat().st_size, 3 << 20)
        self.assertRefused([path, "-o", self.out], path, "distinct) would write",
                           "one tensor under many names")

    # ---- 2. arguments the engine would refuse ----

    def test_input_size_beyond_the_engine_is_refused_before_reading(self):
        missing = self.dir / "absent.pt"
        for value, fragment in (("100000", "each side at most 16384"),
                                ("12000x12000", "at most 100,000,000 pixels"),
                                ("0", "expected N or HxW"), ("64x64x3", "expected N or HxW")):
            done, _ = run_convert_bounded(missing, "-o", self.out, "--input-size", value)
            self.assertOneLineError(done, "--input-size", fragment, prefix="convert: error: ")

    def test_input_size_must_fit_the_model(self):
        yolo = self.dir / "yolo.pt"
        torch.save({"model": make_tiny_yolov5_model(seed=2), "ema": None}, yolo)
        self.assertRefused([yolo, "-o", self.out, "--input-size", "100"], yolo,
                           "--input-size 100x100 is not a multiple of 8", "nearest: 96x96")
        resnet = self.resnet_checkpoint()
        self.assertRefused([resnet, "-o", self.out, "--input-size", "40x48"], resnet,
                           "not a multiple of 16")
        done, _ = run_convert_bounded(resnet, "-o", self.out, "--input-size", "48x80")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn('"input_size": [48, 80]', read_safetensors(self.out)[1]["preprocess"])

    # ---- 3. messages ----

    def test_bad_yaml_values_are_blamed_on_the_yaml(self):
        model = make_tiny_yolov5_model(seed=3)
        state = self.dir / "state.pt"
        torch.save(model.state_dict(), state)
        broken = {
            "stride_text.yaml": ("backbone", 0, [-1, 1, "Conv", [64, 3, "two"]]),
            "bad_from.yaml": ("backbone", 1, [7, 1, "Conv", [128, 3, 2]]),
            "zero_stride.yaml": ("backbone", 1, [-1, 1, "Conv", [128, 3, 0]]),
            "huge_repeat.yaml": ("backbone", 1, [-1, 10 ** 9, "nn.MaxPool2d", [2]]),
            "huge_text_stride.yaml": ("backbone", 1, [-1, 1, "Conv", [128, 3, "1e100000000"]]),
        }
        for name, (part, index, layer) in broken.items():
            cfg = yaml.safe_load(yaml.safe_dump(TINY_YOLO_YAML))
            cfg[part][index] = layer
            path = self.dir / name
            path.write_text(yaml.safe_dump(cfg))
            err = self.assertRefused([state, "-o", self.out, "--yaml", path], path, "layer")
            self.assertNotIn(str(state), err)
        dated = self.dir / "dated.yaml"
        dated.write_text("nc: 2\ncreated: 2024-13-45\n")
        self.assertRefused([state, "-o", self.out, "--yaml", dated], dated, "cannot read YAML")
        anchors = self.dir / "anchors.yaml"
        cfg = dict(TINY_YOLO_YAML, anchors=[5, 6])
        anchors.write_text(yaml.safe_dump(cfg))
        self.assertRefused([state, "-o", self.out, "--yaml", anchors], anchors, "anchors")

    def test_text_files_over_their_size_are_refused_before_parsing(self):
        state = self.resnet_checkpoint()
        big = self.dir / "big.yaml"
        big.write_text("nc: [" + "1, " * (100 << 10) + "1]\n")
        self.assertRefused([state, "-o", self.out, "--yaml", big], big, "YAML file of",
                           "more than the 256.0 KiB")
        names = self.dir / "names.txt"
        names.write_text("class\n" * (1 << 20))
        self.assertRefused([state, "-o", self.out, "--names", names], names, "names file of")

    def test_yaml_inside_a_checkpoint_is_named_as_such(self):
        model = make_tiny_yolov5_model(seed=4)
        model.yaml["backbone"][0] = [-1, 1, "Conv", [64, 3, "two"]]
        model.model[-1].stride = None
        path = self.dir / "ckpt_yaml.pt"
        torch.save({"model": model.state_dict(), "yaml": model.yaml}, path)
        self.assertRefused([path, "-o", self.out], path, "the model YAML it holds", "layer 0")

    def test_legacy_streams_are_read_at_every_pickle_protocol(self):
        reference = read_safetensors_of(self, self.resnet_checkpoint("zip.pt"))
        for protocol in (1, 2, 4):
            legacy = self.resnet_checkpoint(f"legacy{protocol}.pt", pickle_protocol=protocol,
                                            _use_new_zipfile_serialization=False)
            tensors = read_safetensors_of(self, legacy)
            self.assertEqual(sorted(tensors), sorted(reference))
            for key in reference:
                self.assertTrue((tensors[key] == reference[key]).all(), key)

    def test_broken_legacy_streams_say_legacy_and_how_to_resave(self):
        legacy = self.resnet_checkpoint("legacy.pt", _use_new_zipfile_serialization=False)
        cut = self.dir / "cut.pt"
        cut.write_bytes(legacy.read_bytes()[:-500])
        self.assertRefused([cut, "-o", self.out], cut, "legacy torch.save format",
                           "_use_new_zipfile_serialization=True")
        wrong_protocol = self.dir / "protocol.pt"
        blob = legacy.read_bytes()
        wrong_protocol.write_bytes(blob.replace(b"M\xe9\x03", b"M\xea\x03", 1))
        self.assertRefused([wrong_protocol, "-o", self.out], wrong_protocol,
                           "legacy torch.save format", "protocol version 1002")
        tar = self.dir / "ancient.pt"
        with tarfile.open(tar, "w") as archive:
            data = b"\x80\x02."
            info = tarfile.TarInfo("pickle")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        self.assertRefused([tar, "-o", self.out], tar, "tar archive", "torch < 0.4",
                           "_use_new_zipfile_serialization=True")

    def test_tensor_names_cannot_make_the_shape_checks_slow(self):
        state = make_resnet_spd("basic", (1, 1, 1, 1), 10, width=8).state_dict()
        state["conv2_x.999999999.residual_function.0.weight"] = torch.zeros(1)
        path = self.dir / "far_block.pt"
        torch.save(state, path)
        self.assertRefused([path, "-o", self.out], path, "conv2_x.1: missing")
        yolo = make_tiny_yolov5_model(seed=6).state_dict()
        yolo["model.\u0663.weight"] = torch.zeros(1)  # an Arabic-Indic digit 3
        yolo["model." + "9" * 5000 + ".weight"] = torch.zeros(1)
        path = self.dir / "odd_index.pt"
        torch.save({"model": yolo, "yaml": TINY_YOLO_YAML}, path)
        self.assertRefused([path, "-o", self.out], path, "not a tensor of layers model.0..model.3")

    def test_module_state_of_the_wrong_type_is_refused_by_name(self):
        cases = {
            "nan.pt": (lambda m: m.yaml.update(width_multiple=float("nan")), "not a finite number"),
            "buffers_set.pt": (lambda m: setattr(m.model[0], "_non_persistent_buffers_set", 5),
                               "_non_persistent_buffers_set is of type int"),
            "parameters.pt": (lambda m: m.model[0].__dict__.update(_parameters=[1]),
                              "_parameters is of type list"),
        }
        for name, (spoil, fragment) in cases.items():
            model = make_tiny_yolov5_model(seed=5)
            spoil(model)
            path = self.dir / name
            torch.save({"model": model}, path)
            err = self.assertRefused([path, "-o", self.out], path, fragment)
            self.assertNotIn("unexpected", err)
        # Names keyed by something other than indices are dropped, not a failure.
        model = make_tiny_yolov5_model(seed=5)
        model.names = {0: "cat", "x": "dog"}
        path = self.dir / "names.pt"
        torch.save({"model": model}, path)
        done, _ = run_convert_bounded(path, "-o", self.out)
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_an_unforeseen_exception_is_one_line_naming_the_input(self):
        src = self.resnet_checkpoint()
        stderr = io.StringIO()
        with mock.patch("weights_tools.convert.converter.describe_checkpoint",
                        side_effect=KeyError("line one\nline two \x1b[31mred")), \
                redirect_stderr(stderr):
            code = main([str(src), "-o", str(self.out)])
        self.assertEqual(code, 2)
        lines = stderr.getvalue().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith(f"convert: error: {src}: unexpected KeyError"), lines)
        self.assertNotIn("\x1b", lines[0])

    # ---- 4. what the fuzzer found ----

    def test_fuzzer_regressions_end_in_a_checkpoint_error(self):
        inputs = sorted(REGRESSIONS.glob("*"))
        self.assertTrue(inputs, f"no regression inputs in {REGRESSIONS}")
        for path in inputs:
            self.assertRefused([path, "-o", self.out], path)


def read_safetensors_of(test, checkpoint):
    """Convert `checkpoint` (must succeed) and return its tensors."""
    out = test.dir / (checkpoint.stem + ".safetensors")
    done, _ = run_convert_bounded(checkpoint, "-o", out)
    test.assertEqual(done.returncode, 0, done.stderr)
    return read_safetensors(out)[0]


if __name__ == "__main__":
    unittest.main()
