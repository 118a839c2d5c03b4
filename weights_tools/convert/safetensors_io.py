"""Write and read the safetensors container that spdinfer model files use.

What it is: the byte layout only (docs/design.md, "Model file"): an 8-byte little-endian
header length, a JSON header padded with spaces to a multiple of 8, then the tensors' bytes
back to back, in header order, with `data_offsets` contiguous from 0. Dtypes F32 and F16 only,
which is all the engine reads. `__metadata__` maps strings to strings.

What it is not: it knows nothing of spdinfer's metadata keys or of model families (that is
weights_tools/convert/converter.py), and it needs only numpy (no torch, no safetensors package).
"""

import json
import os
import struct
import tempfile
from collections import OrderedDict

import numpy as np

# Container dtype name <-> numpy dtype (little-endian, as the container stores them).
_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2")}
_DTYPE_NAMES = {("f", 4): "F32", ("f", 2): "F16"}  # by (kind, itemsize): any byte order

# A header larger than this is not a model file we wrote; refusing it early keeps a corrupt
# length field from making the reader allocate gigabytes.
_MAX_HEADER_BYTES = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """The container is malformed, or the tensors/metadata given cannot be stored."""


def _header_bytes(tensors, metadata):
    """The padded JSON header for `tensors` (name -> array) and `metadata`."""
    header = OrderedDict()
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise SafetensorsError(
                    f"metadata must map strings to strings; {key!r} -> {type(value).__name__}")
        header["__metadata__"] = OrderedDict(metadata)
    offset = 0
    for name, array in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise SafetensorsError(f"bad tensor name {name!r}")
        dtype_name = _DTYPE_NAMES.get((array.dtype.kind, array.dtype.itemsize))
        if dtype_name is None:
            raise SafetensorsError(
                f"tensor {name}: dtype {array.dtype} is not storable (only float32, float16)")
        nbytes = array.size * array.dtype.itemsize
        header[name] = OrderedDict([
            ("dtype", dtype_name),
            ("shape", [int(d) for d in array.shape]),
            ("data_offsets", [offset, offset + nbytes]),
        ])
        offset += nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    # Padding with spaces keeps the tensor data 8-byte aligned, as the format recommends.
    text += b" " * (-len(text) % 8)
    return text


def write_safetensors(path, tensors, metadata=None):
    """Write `tensors` (an ordered mapping name -> numpy array, float32 or float16) and
    `metadata` (str -> str) to `path`.

    The file is written to a temporary name beside `path` and renamed at the end, so a failure
    never leaves a partial file at `path`.
    """
    header = _header_bytes(tensors, metadata)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(header)))
            f.write(header)
            for array in tensors.values():
                # Always little-endian and C-contiguous, whatever the caller's array is.
                data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
                f.write(data.tobytes(order="C"))
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise


def _parse_header(raw, data_len):
    """Validate the header JSON and return (tensor entries in file order, metadata)."""
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=OrderedDict)
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError(f"header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = OrderedDict()
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError("__metadata__ must map strings to strings")
    entries = []
    expected_start = 0
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"tensor {name}: entry must have dtype, shape, data_offsets")
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise SafetensorsError(f"tensor {name}: unsupported dtype {info['dtype']!r}")
        shape, offsets = info["shape"], info["data_offsets"]
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise SafetensorsError(f"tensor {name}: bad shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) for o in offsets)):
            raise SafetensorsError(f"tensor {name}: bad data_offsets {offsets!r}")
        begin, end = offsets
        # We require what our writer produces: contiguous data in header order, no gaps.
        if begin != expected_start:
            raise SafetensorsError(
                f"tensor {name}: data starts at {begin}, expected {expected_start}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if end - begin != nbytes:
            raise SafetensorsError(
                f"tensor {name}: {end - begin} data bytes for shape {shape} {info['dtype']}")
        if end > data_len:
            raise SafetensorsError(f"tensor {name}: data ends at {end}, past the file's end")
        expected_start = end
        entries.append((name, dtype, tuple(shape), begin, end))
    if expected_start != data_len:
        raise SafetensorsError(
            f"{data_len - expected_start} bytes after the last tensor's data")
    return entries, metadata


def read_safetensors(path):
    """Read a container written by `write_safetensors` (or any conforming F32/F16 file).

    Returns (tensors, metadata): an OrderedDict name -> numpy array in file order (float32 /
    float16, native byte order, writable copies) and an OrderedDict of the `__metadata__`
    strings. Raises SafetensorsError on anything malformed.
    """
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise SafetensorsError(f"file is {len(blob)} bytes, too short for a header length")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > min(len(blob) - 8, _MAX_HEADER_BYTES):
        raise SafetensorsError(f"header length {header_len} exceeds the file")
    entries, metadata = _parse_header(blob[8:8 + header_len], len(blob) - 8 - header_len)
    data = memoryview(blob)[8 + header_len:]
    tensors = OrderedDict()
    for name, dtype, shape, begin, end in entries:
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        tensors[name] = array.astype(dtype.newbyteorder("="), copy=True)
    return tensors, metadata
