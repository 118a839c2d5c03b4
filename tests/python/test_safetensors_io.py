"""Tests of weights_tools/convert/safetensors_io.py: the container's exact byte layout, write -> read
round trips, and refusal of malformed files. numpy only."""

import json
import os
import struct
import tempfile
import unittest
from collections import OrderedDict
from pathlib import Path

import numpy as np

from weights_tools.convert.safetensors_io import SafetensorsError, read_safetensors, write_safetensors


def sample_tensors():
    rng = np.random.default_rng(0)
    return OrderedDict([
        ("conv.weight", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
        ("conv.bias", rng.standard_normal(4).astype(np.float16)),
        ("scalar", np.array(2.5, dtype=np.float32)),
        ("empty", np.zeros((0, 5), dtype=np.float32)),
        # a non-contiguous view must be written as its logical (C-order) contents
        ("view", rng.standard_normal((6, 8)).astype(np.float32)[::2, 1::3]),
    ])


class SafetensorsIOTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = Path(self.tmp.name) / "m.safetensors"

    def tearDown(self):
        self.tmp.cleanup()

    def test_round_trip_keeps_names_order_dtypes_values_metadata(self):
        tensors = sample_tensors()
        metadata = {"format": "spdinfer", "architecture": json.dumps({"a": [1, 2]}), "é": "ü"}
        write_safetensors(self.path, tensors, metadata)
        back, meta = read_safetensors(self.path)
        self.assertEqual(list(back), list(tensors))
        for name, array in tensors.items():
            self.assertEqual(back[name].dtype, array.dtype, name)
            self.assertEqual(back[name].shape, array.shape, name)
            np.testing.assert_array_equal(back[name], array, err_msg=name)
        self.assertEqual(dict(meta), metadata)

    def test_byte_layout(self):
        tensors = sample_tensors()
        write_safetensors(self.path, tensors, {"k": "v"})
        blob = self.path.read_bytes()
        (n,) = struct.unpack("<Q", blob[:8])
        self.assertEqual(n % 8, 0, "header padded to a multiple of 8")
        header_text = blob[8:8 + n].decode("utf-8")
        self.assertEqual(header_text, header_text.rstrip(" ") + " " * (n - len(header_text.rstrip(" "))))
        header = json.loads(header_text, object_pairs_hook=OrderedDict)
        self.assertEqual(header.pop("__metadata__"), {"k": "v"})
        self.assertEqual(list(header), list(tensors))
        offset = 0
        for name, array in tensors.items():
            entry = header[name]
            self.assertEqual(entry["dtype"], {"float32": "F32", "float16": "F16"}[array.dtype.name])
            self.assertEqual(entry["shape"], list(array.shape))
            self.assertEqual(entry["data_offsets"], [offset, offset + array.nbytes])
            raw = blob[8 + n + offset: 8 + n + offset + array.nbytes]
            np.testing.assert_array_equal(
                np.frombuffer(raw, dtype=array.dtype.newbyteorder("<")).reshape(array.shape), array)
            offset += array.nbytes
        self.assertEqual(len(blob), 8 + n + offset, "no bytes after the data")

    def test_no_metadata_and_big_endian_input(self):
        tensors = {"x": np.arange(5, dtype=">f4")}
        write_safetensors(self.path, tensors)
        back, meta = read_safetensors(self.path)
        self.assertEqual(dict(meta), {})
        np.testing.assert_array_equal(back["x"], np.arange(5, dtype=np.float32))

    def test_writer_refuses_unstorable_and_leaves_no_file(self):
        for tensors, metadata in (({"i": np.arange(3)}, None),
                                  ({"d": np.zeros(2, dtype=np.float64)}, None),
                                  ({"x": np.zeros(2, dtype=np.float32)}, {"k": 1})):
            with self.assertRaises(SafetensorsError):
                write_safetensors(self.path, tensors, metadata)
            self.assertFalse(self.path.exists())
        self.assertEqual(os.listdir(self.tmp.name), [], "no temporary file left behind")

    def _write_raw(self, header, data=b"", pad=True):
        text = json.dumps(header).encode()
        if pad:
            text += b" " * (-len(text) % 8)
        self.path.write_bytes(struct.pack("<Q", len(text)) + text + data)

    def assertRefused(self, fragment):
        with self.assertRaises(SafetensorsError) as ctx:
            read_safetensors(self.path)
        self.assertIn(fragment, str(ctx.exception))

    def test_reader_refuses_malformed(self):
        ok = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
        self.path.write_bytes(b"\x01\x02")
        self.assertRefused("too short")
        self.path.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
        self.assertRefused("exceeds")
        self.path.write_bytes(struct.pack("<Q", 4) + b"{x:1")
        self.assertRefused("not valid JSON")
        self._write_raw({"a": dict(ok, dtype="I64")}, b"\0" * 8)
        self.assertRefused("unsupported dtype")
        self._write_raw({"a": dict(ok, shape=[3])}, b"\0" * 8)
        self.assertRefused("data bytes for shape")
        self._write_raw({"a": ok}, b"\0" * 4)
        self.assertRefused("past the file's end")
        self._write_raw({"a": ok, "b": ok}, b"\0" * 16)
        self.assertRefused("expected 8")
        self._write_raw({"a": ok}, b"\0" * 12)
        self.assertRefused("after the last tensor")
        self._write_raw({"__metadata__": {"k": 1}, "a": ok}, b"\0" * 8)
        self.assertRefused("strings to strings")
        self._write_raw({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8)
        self.assertRefused("must have dtype, shape, data_offsets")


if __name__ == "__main__":
    unittest.main()
