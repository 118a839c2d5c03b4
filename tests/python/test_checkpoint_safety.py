"""Tests of weights_tools/convert/checkpoint.py: checkpoints are read without running their code
(malicious pickles are refused, naming the global), tensors are rebuilt exactly (offset, size,
stride, dtype) in both torch.save formats, and broken files fail with a CheckpointError.
torch is used only to *write* the test files and to give the expected values."""

import io
import os
import pickle
import tempfile
import unittest
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from tests.python.helpers import run_convert
from weights_tools.convert.checkpoint import (CheckpointError, StandIn, is_module, load_checkpoint,
                                      module_state_dict)


class Reduce:
    """An object that pickles as `func(*args)`: what a malicious checkpoint contains."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def write_zip(path, pickle_bytes, storages=None, top="archive"):
    """A torch-style zip: top/data.pkl, top/data/<key> for each raw storage, top/version."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{top}/data.pkl", pickle_bytes)
        for key, raw in (storages or {}).items():
            z.writestr(f"{top}/data/{key}", raw)
        z.writestr(f"{top}/version", "3\n")


def pickle_with_storages(obj):
    """Pickle `obj` (protocol 2) where `StorageRef` objects become torch persistent ids."""
    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, StorageRef):
                return ("storage", o.storage_type, o.key, "cpu", o.numel)
            return None
    buffer = io.BytesIO()
    P(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


class StorageRef:
    def __init__(self, storage_type, key, numel):
        self.storage_type, self.key, self.numel = storage_type, key, numel


def tensor_ref(storage, offset, size, stride):
    return Reduce(torch._utils._rebuild_tensor_v2,
                  (storage, offset, size, stride, False, OrderedDict()))


class CheckpointSafetyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.marker = self.dir / "pwned"

    def tearDown(self):
        self.tmp.cleanup()

    def assertRefused(self, path, *fragments):
        with self.assertRaises(CheckpointError) as ctx:
            load_checkpoint(path)
        for fragment in fragments:
            self.assertIn(fragment, str(ctx.exception))
        return str(ctx.exception)

    # ---- code execution attempts ----

    def test_os_system_reduce_is_refused_zip_and_legacy(self):
        payload = {"model": Reduce(os.system, (f"touch {self.marker}",))}
        for legacy in (False, True):
            path = self.dir / f"evil_{legacy}.pt"
            torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
            self.assertRefused(path, "refusing global posix.system")
            self.assertFalse(self.marker.exists())

    def test_other_dangerous_globals_are_refused_by_name(self):
        import subprocess
        cases = [(eval, (f"open({str(self.marker)!r}, 'w')",), "__builtin__.eval"),
                 (subprocess.Popen, (["touch", str(self.marker)],), ".Popen"),  # py2 name: commands
                 (__import__, ("os",), "__builtin__.__import__")]
        for func, args, name in cases:
            path = self.dir / "evil.pt"
            torch.save({"x": Reduce(func, args)}, path)
            self.assertRefused(path, name)
            self.assertFalse(self.marker.exists())

    def test_protocol0_pickle_in_zip_is_refused(self):
        path = self.dir / "evil0.pt"
        write_zip(path, f"cos\nsystem\n(S'touch {self.marker}'\ntR.".encode())
        self.assertRefused(path, "os.system")
        self.assertFalse(self.marker.exists())

    def test_models_classes_become_inert_standins(self):
        # A class under models.* whose own unpickling code would run if it were imported.
        import sys
        import types
        module = types.ModuleType("models.evil")
        marker = self.marker

        class Boom(torch.nn.Module):
            def __setstate__(self, state):
                marker.touch()
                super().__setstate__(state)
        Boom.__module__, Boom.__qualname__ = "models.evil", "Boom"
        module.Boom = Boom
        sys.modules["models.evil"] = module
        try:
            boom = Boom()
            boom.w = torch.nn.Parameter(torch.ones(2))
            path = self.dir / "boom.pt"
            torch.save({"model": boom}, path)
        finally:
            del sys.modules["models.evil"]
        obj = load_checkpoint(path)
        self.assertFalse(self.marker.exists())
        self.assertIsInstance(obj["model"], StandIn)
        self.assertEqual(obj["model"].standin_global, "models.evil.Boom")
        self.assertTrue(is_module(obj["model"]))
        np.testing.assert_array_equal(module_state_dict(obj["model"])["w"], np.ones(2, np.float32))

    def test_standin_refuses_slot_state(self):
        path = self.dir / "slots.pt"
        # BUILD with (dict, slotstate) could setattr __class__; the stand-in refuses it.
        raw = (b"\x80\x02cmodels.common\nConv\n)\x81}q\x00}q\x01X\t\x00\x00\x00__class__q\x02"
               b"cmodels.common\nC3\ns\x86b.")
        write_zip(path, raw)
        self.assertRefused(path, "unexpected pickled state")

    def test_cli_refuses_malicious_file_cleanly(self):
        path = self.dir / "evil.pt"
        out = self.dir / "out.safetensors"
        torch.save({"model": Reduce(os.system, (f"touch {self.marker}",))}, path)
        result = run_convert(path, "-o", out)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stdout, "")
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith(f"convert: error: {path}: refusing global posix.system"),
                        lines[0])
        self.assertFalse(out.exists())
        self.assertFalse(self.marker.exists())

    # ---- tensors rebuilt exactly ----

    def _tensors(self):
        torch.manual_seed(0)
        base = torch.randn(6, 10)
        shared = torch.arange(24, dtype=torch.float32)
        return OrderedDict([
            ("contiguous", torch.randn(3, 4, 5)),
            ("offset_stride_view", base[1:5, 2:9:3]),
            ("transposed", base.t()),
            ("expanded", torch.randn(3, 1).expand(3, 4)),
            ("half", torch.randn(4, 4).half()),
            ("bfloat16", torch.randn(5).bfloat16()),
            ("double", torch.randn(3).double()),
            ("long", torch.tensor([1, -2, 3])),
            ("bool", torch.tensor([True, False])),
            ("empty", torch.zeros(0, 3)),
            ("scalar", torch.tensor(1.5)),
            ("shared_a", shared[2:10].view(2, 4)),
            ("shared_b", shared[10:]),
            ("param", torch.nn.Parameter(torch.randn(2, 2))),
        ])

    def _check_tensors(self, loaded, tensors):
        self.assertIsInstance(loaded, OrderedDict)
        self.assertEqual(list(loaded), list(tensors))
        for name, t in tensors.items():
            got = loaded[name]
            self.assertIsInstance(got, np.ndarray, name)
            want = t.detach().float().numpy() if t.dtype == torch.bfloat16 else t.detach().numpy()
            self.assertEqual(got.dtype, want.dtype, name)
            self.assertEqual(got.shape, want.shape, name)
            np.testing.assert_array_equal(got, want, err_msg=name)

    def test_tensor_geometry_and_dtypes_zip(self):
        tensors = self._tensors()
        path = self.dir / "t.pt"
        torch.save(tensors, path)
        self._check_tensors(load_checkpoint(path), tensors)

    def test_tensor_geometry_and_dtypes_legacy_format(self):
        tensors = self._tensors()
        path = self.dir / "legacy.pt"
        torch.save(tensors, path, _use_new_zipfile_serialization=False)
        self._check_tensors(load_checkpoint(path), tensors)

    def test_archive_top_folder_name_varies(self):
        path = self.dir / "renamed.pt"
        raw = pickle_with_storages({"a": tensor_ref(StorageRef(torch.FloatStorage, "0", 3),
                                                    0, (3,), (1,))})
        write_zip(path, raw, {"0": np.array([1, 2, 3], "<f4").tobytes()}, top="whatever_name")
        np.testing.assert_array_equal(load_checkpoint(path)["a"], [1, 2, 3])

    def test_module_state_dict_matches_torch(self):
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                  torch.nn.Sequential(torch.nn.Linear(4, 2, bias=False), None))
        net[1].register_buffer("scratch", torch.ones(3), persistent=False)
        path = self.dir / "net.pt"
        torch.save(net, path)
        ours = module_state_dict(load_checkpoint(path))
        theirs = net.state_dict()
        self.assertEqual(list(ours), list(theirs))
        for name, t in theirs.items():
            np.testing.assert_array_equal(ours[name], t.numpy(), err_msg=name)

    def test_numpy_values_of_training_checkpoints(self):
        values = {"f64": np.float64(0.625), "i64": np.int64(-7), "f32": np.float32(1.5),
                  "arr": np.array([0.25, 0.5]), "arr2d": np.arange(6, dtype=np.int32).reshape(2, 3)}
        path = self.dir / "np.pt"
        torch.save(values, path)
        loaded = load_checkpoint(path)
        for key in ("f64", "i64", "f32"):
            self.assertEqual(loaded[key], values[key])
            self.assertEqual(loaded[key].dtype, values[key].dtype)
        for key in ("arr", "arr2d"):
            np.testing.assert_array_equal(loaded[key].array, values[key])
            self.assertEqual(loaded[key].array.dtype, values[key].dtype)

    def test_numpy_object_arrays_are_refused(self):
        path = self.dir / "obj.pt"
        torch.save({"a": np.array([{"x": 1}], dtype=object)}, path)
        self.assertRefused(path, "dtype")

    # ---- broken files ----

    def test_storage_geometry_past_its_data_is_refused(self):
        path = self.dir / "oob.pt"
        raw = pickle_with_storages({"a": tensor_ref(StorageRef(torch.FloatStorage, "0", 4),
                                                    2, (2, 3), (3, 1))})
        write_zip(path, raw, {"0": np.zeros(4, "<f4").tobytes()})
        self.assertRefused(path, "runs past its storage")

    def test_short_storage_is_refused(self):
        path = self.dir / "short.pt"
        raw = pickle_with_storages({"a": tensor_ref(StorageRef(torch.FloatStorage, "0", 8),
                                                    0, (8,), (1,))})
        write_zip(path, raw, {"0": np.zeros(4, "<f4").tobytes()})
        self.assertRefused(path, "truncated")

    def test_missing_storage_is_refused(self):
        path = self.dir / "missing.pt"
        raw = pickle_with_storages({"a": tensor_ref(StorageRef(torch.FloatStorage, "7", 1),
                                                    0, (1,), (1,))})
        write_zip(path, raw)
        self.assertRefused(path, "archive/data/7 is missing")

    def test_truncated_and_foreign_files(self):
        good = self.dir / "good.pt"
        torch.save({"w": torch.randn(100, 100)}, good)
        blob = good.read_bytes()
        cases = [
            ("truncated.pt", blob[: len(blob) // 2], "corrupt or truncated zip"),
            ("empty.pt", b"", "empty"),
            ("text.pt", b"hello, I am not a checkpoint\n", "not a PyTorch checkpoint"),
            ("legacy_cut.pt", None, "truncated"),
        ]
        legacy = self.dir / "legacy.pt"
        torch.save({"w": torch.randn(100, 100)}, legacy, _use_new_zipfile_serialization=False)
        for name, data, fragment in cases:
            path = self.dir / name
            if data is None:
                data = legacy.read_bytes()[:-1000]
            path.write_bytes(data)
            self.assertRefused(path, fragment)
        other_zip = self.dir / "other.zip"
        with zipfile.ZipFile(other_zip, "w") as z:
            z.writestr("readme.txt", "just a zip")
        self.assertRefused(other_zip, "no <archive>/data.pkl")

    def test_garbage_pickle_is_a_checkpoint_error(self):
        path = self.dir / "garbage.pt"
        write_zip(path, b"\x80\x02}q\x00(X\x01\x00\x00\x00a")  # stops mid-dict
        self.assertRefused(path, "corrupt pickle data")


if __name__ == "__main__":
    unittest.main()
