"""Load a PyTorch checkpoint (torch.save file) without executing any of its code.

What it is: a reader of the torch.save formats (the zip archive `<top>/data.pkl` +
`<top>/data/<key>`, and the older non-zip "legacy" stream) whose unpickler resolves only an
allow-list of globals. Tensors come back as numpy arrays (offset, size and stride honoured; fp16
stays fp16). Classes under `models.*` (YOLOv5 / SPD-Conv code) and `torch.nn.modules.*` become
inert `StandIn` objects that only record the state the pickle gives them, so a `models.yolo.Model`
can be walked (`module_state_dict`) without the YOLOv5 code or torch. Any other global (os.system,
builtins.eval, subprocess.*, ...) is refused with a CheckpointError naming it.

Why not torch.load: Debian's torch 1.13 ignores `pickle_module` unless `weights_only=True`, and
weights_only refuses YOLOv5 checkpoints (they pickle whole modules). So we unpickle ourselves.

What it is not: it does not interpret the loaded object (converter.py decides what a checkpoint
holds) and imports neither torch nor anything a checkpoint names.
"""

import contextlib
import errno
import functools
import io
import lzma
import os
import pickle
import re
import stat
import struct
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from weights_tools.convert.read_budget import (DEFAULT_MAX_CHECKPOINT_BYTES, MAX_PICKLE_BYTES,
                                               CheckpointError, ReadBudget)


class StandIn:
    """Inert stand-in for a pickled class instance (an nn.Module, a YOLOv5 module, ...).

    It runs no code of the original class: construction records the arguments and unpickling
    (BUILD) stores the state dict in `__dict__`, so `_modules`, `_parameters`, `_buffers`,
    `yaml`, `stride`, ... read as attributes. `standin_global` names the original class.
    """

    standin_global = "?"

    def __init__(self, *args, **kwargs):
        # Reached only when a pickle *calls* the class (REDUCE); nn.Modules use NEWOBJ + BUILD.
        self.__dict__["standin_args"] = args
        self.__dict__["standin_kwargs"] = kwargs

    def __setstate__(self, state):
        # (dict, slotstate) is what objects with __slots__ pickle; setting slot attributes
        # could reassign __class__, so only a plain dict (or dict with no slots) is accepted.
        if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
            state = state[0]
        if not isinstance(state, dict):
            raise CheckpointError(
                f"{self.standin_global}: unexpected pickled state of type {type(state).__name__}")
        for key, value in state.items():
            if not isinstance(key, str):
                raise CheckpointError(f"{self.standin_global}: non-string attribute name")
            # An instance-level __setstate__ would be what a later BUILD calls; modules have no
            # dunder attributes in their state, so none are taken.
            if key.startswith("__") and key.endswith("__"):
                raise CheckpointError(f"{self.standin_global}: refusing attribute {key}")
            self.__dict__[key] = value

    def __repr__(self):
        return f"<StandIn {self.standin_global}>"


def is_module(obj):
    """True for a stand-in of a torch.nn.Module (it has the module bookkeeping dicts)."""
    return isinstance(obj, StandIn) and isinstance(obj.__dict__.get("_modules"), dict)


# Module prefixes whose classes become stand-ins. `models.` is the YOLOv5 / SPD-Conv code
# (models.yolo, models.common, models.experimental); torch.nn.modules holds the layers. The
# shared checkpoints hold nothing under `utils.`, so that stays refused.
_STANDIN_PREFIXES = ("models.", "torch.nn.modules.")
_STANDIN_CLASSES = {}


def _standin_class(module, name):
    key = f"{module}.{name}"
    cls = _STANDIN_CLASSES.get(key)
    if cls is None:
        cls = type(name, (StandIn,), {"standin_global": key, "__module__": __name__})
        _STANDIN_CLASSES[key] = cls
    return cls


# ---- storages and tensors ------------------------------------------------------------------

class _StorageType:
    """What `torch.HalfStorage` etc. resolve to: just the element dtype."""

    def __init__(self, name, dtype):
        self.name = name
        self.dtype = np.dtype(dtype)


# bfloat16 has no numpy dtype: its storage is read as uint16 and widened to float32 (exact).
_STORAGE_TYPES = {
    "HalfStorage": "<f2", "FloatStorage": "<f4", "DoubleStorage": "<f8",
    "BFloat16Storage": "<u2", "LongStorage": "<i8", "IntStorage": "<i4",
    "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class _Storage:
    """A loaded storage: a 1-D numpy array of `numel` elements (None in the legacy first pass)."""

    def __init__(self, array):
        self.array = array


def _storage_array(raw, storage_type, numel, big_endian, where):
    """Turn the raw bytes of one storage into a 1-D numpy array of its element type."""
    dtype = storage_type.dtype
    if big_endian:
        dtype = dtype.newbyteorder(">")
    if len(raw) < numel * dtype.itemsize:
        raise CheckpointError(
            f"{where}: {len(raw)} bytes for {numel} elements of {storage_type.name} (truncated?)")
    # Native byte order: a read-only view of `raw`, not a copy (tensors are copied out of it).
    array = np.frombuffer(raw, dtype=dtype, count=numel).astype(dtype.newbyteorder("="),
                                                                copy=False)
    if storage_type.name == "BFloat16Storage":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


MAX_TENSOR_DIMS = 16  # checkpoints of these networks hold tensors of at most 5 dimensions


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None, *, budget=None):
    """torch._utils._rebuild_tensor_v2, producing a numpy array copy of the tensor's view.
    The view is checked before anything is allocated: it must lie inside its storage, and its
    bytes are charged to `budget`, which bounds what views with zero or overlapping strides
    (`expand` makes them) may repeat of their storage."""
    if not isinstance(storage, _Storage):
        raise CheckpointError("tensor rebuilt from something that is not a storage")
    if storage.array is None:  # legacy format, first pass: data not read yet
        return None
    size, stride = tuple(size), tuple(stride)
    if not (isinstance(storage_offset, int) and len(size) == len(stride)
            and len(size) <= MAX_TENSOR_DIMS
            and all(isinstance(v, int) and v >= 0 for v in size + stride + (storage_offset,))):
        raise CheckpointError(f"bad tensor geometry: offset {storage_offset!r}, size "
                              f"{str(size)[:80]}, stride {str(stride)[:80]} (negative, non-integer "
                              f"or more than {MAX_TENSOR_DIMS} dimensions)")
    array = storage.array
    if 0 in size:
        return np.empty(size, dtype=array.dtype)
    geometry = f"tensor of size {list(size)}, stride {list(stride)}, offset {storage_offset}"
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= array.size:
        raise CheckpointError(f"{geometry}: runs past its storage of {array.size} elements")
    if budget is not None:
        budget.charge_tensor(int(np.prod(size, dtype=object)) * array.dtype.itemsize, geometry)
    view = np.lib.stride_tricks.as_strided(
        array[storage_offset:], shape=size,
        strides=tuple(s * array.dtype.itemsize for s in stride), writeable=False)
    return np.array(view, copy=True)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


def _rebuild_parameter_with_state(data, requires_grad=False, backward_hooks=None, state=None):
    return data


# ---- numpy values in mid-training checkpoints (best_fitness, ...) ---------------------------

# Plain numeric dtype codes only: an object dtype would make numpy unpickle arbitrary objects.
_SIMPLE_DTYPE = re.compile(r"^[<>|=]?([biufc]\d{1,2}|\?)$")


class _NumpyDtype:
    """What `numpy.dtype(...)` builds while unpickling: a name plus the byte order BUILD sets."""

    def __init__(self, name, align=False, copy=True):
        if not isinstance(name, str) or not _SIMPLE_DTYPE.match(name):
            raise CheckpointError(f"numpy dtype {name!r} is not a plain numeric dtype")
        self.name = name
        self.byteorder = "="

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "="):
            self.byteorder = state[1]

    def numpy(self):
        return np.dtype(self.name).newbyteorder(self.byteorder)


def _numpy_scalar(dtype, data=None):
    """numpy.core.multiarray.scalar(dtype, bytes) rebuilt with np.frombuffer."""
    if not isinstance(dtype, _NumpyDtype) or not isinstance(data, bytes):
        raise CheckpointError("numpy scalar with an unexpected dtype or payload")
    np_dtype = dtype.numpy()
    if len(data) != np_dtype.itemsize:
        raise CheckpointError(f"numpy scalar of {np_dtype} with {len(data)} bytes")
    return np.frombuffer(data, dtype=np_dtype)[0]


class _NumpyArrayMarker:
    """What `numpy.ndarray` resolves to: only usable as _reconstruct's first argument."""


class NumpyArray:
    """A pickled numpy ndarray, rebuilt from its raw bytes (numeric dtypes only) in `.array`."""

    def __init__(self):
        self.array = None

    def __setstate__(self, state):
        # ndarray state: (version, shape, dtype, is_fortran, raw bytes)
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _NumpyDtype)
                and isinstance(state[4], bytes)):
            raise CheckpointError("numpy array with unexpected state (object arrays are refused)")
        _, shape, dtype, fortran, raw = state
        self.array = np.frombuffer(raw, dtype=dtype.numpy()).reshape(
            shape, order="F" if fortran else "C").copy()


def _numpy_reconstruct(cls, shape=None, typecode=None):
    if cls is not _NumpyArrayMarker:
        raise CheckpointError("numpy _reconstruct of something other than numpy.ndarray")
    return NumpyArray()


def _codecs_encode(text, encoding="utf-8"):
    """_codecs.encode as protocol-2 pickles use it for bytes: only str -> latin-1 bytes."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError("_codecs.encode used for something other than latin-1 bytes")
    return text.encode("latin-1")


# ---- the unpickler --------------------------------------------------------------------------

_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): _codecs_encode,
}
for _name, _dtype in _STORAGE_TYPES.items():
    _ALLOWED[("torch", _name)] = _StorageType(_name, _dtype)
for _np in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1.x and 2.x spellings
    _ALLOWED[(_np, "scalar")] = _numpy_scalar
    _ALLOWED[(_np, "_reconstruct")] = _numpy_reconstruct
_ALLOWED[("numpy", "dtype")] = _NumpyDtype
_ALLOWED[("numpy", "ndarray")] = _NumpyArrayMarker


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler whose globals are the allow-list above or inert stand-ins; storages come from
    `load_storage(storage_type, key, numel)` and are charged, with the tensors rebuilt from
    them, to `budget`."""

    def __init__(self, file, load_storage, budget):
        super().__init__(file, encoding="utf-8")
        self._load_storage = load_storage
        self._budget = budget
        self._storages = {}

    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is _rebuild_tensor_v2:
            return functools.partial(_rebuild_tensor_v2, budget=self._budget)
        if found is not None:
            return found
        if module.startswith(_STANDIN_PREFIXES) and name.isidentifier():
            return _standin_class(module, name)
        raise CheckpointError(
            f"refusing global {module}.{name}: not a class a model checkpoint may use "
            "(the file may be malicious)")

    def persistent_load(self, pid):
        # zip: ('storage', type, key, location, numel); legacy adds a view_metadata field.
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[4], int)
                and pid[4] >= 0):
            raise CheckpointError(f"unexpected persistent id {str(pid)[:80]}")
        if len(pid) == 6 and pid[5] is not None:
            raise CheckpointError("legacy storage views are not supported")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        storage = self._storages.get(key)
        if storage is None:
            storage = _Storage(self._load_storage(storage_type, key, numel))
            if storage.array is not None:
                self._budget.charge_storage(numel * storage_type.dtype.itemsize)
            self._storages[key] = storage
        return storage


def _unpickle(data_file, load_storage, budget):
    try:
        # When a BYTEARRAY8 opcode asks for more memory than there is, CPython 3.11 frees the
        # half-made bytearray with an uninitialised export count and may print "SystemError:
        # deallocated bytearray object has exported buffers" before raising MemoryError (reported
        # below): that print goes to a sink, so the converter's stderr stays one line.
        with contextlib.redirect_stderr(io.StringIO()):
            return _SafeUnpickler(data_file, load_storage, budget).load()
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, struct.error, MemoryError, RecursionError, OverflowError) as e:
        detail = ("a length larger than memory" if isinstance(e, MemoryError)
                  else f"{type(e).__name__}: {e}")
        raise CheckpointError(f"corrupt pickle data ({detail})") from None


class _BoundedReader:
    """A read-only view of a file that lets at most `limit` more bytes be read from it: the
    pickles of a legacy stream have no size field, so this is what bounds each one. It has no
    `readinto` (optional for the unpickler), so every read goes through `read` and its bound."""

    def __init__(self, file, limit, what):
        self._file, self._limit, self._left, self._what = file, limit, limit, what

    def _take(self, n):
        if n is None or n < 0:
            return self._left
        if n > self._left:
            raise CheckpointError(f"{self._what} is larger than {self._limit} bytes")
        return n

    def read(self, n=-1):
        data = self._file.read(self._take(n))
        self._left -= len(data)
        return data

    def readline(self, n=-1):
        data = self._file.readline(self._take(n))
        self._left -= len(data)
        return data


# ---- the two file formats -------------------------------------------------------------------

# What zipfile and the codecs it uses raise for a damaged archive or member (ValueError: a
# member name that is not UTF-8 though flagged so, a negative offset, ...).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError,
               NotImplementedError, RuntimeError, struct.error)


def _load_zip(path, budget):
    """The torch >= 1.6 format. Each member's size is checked (and charged to `budget`) from
    the archive's directory before it is inflated, and read no further than that size, so a
    member that inflates to gigabytes is refused without inflating it."""
    try:
        with open_regular(path) as raw, zipfile.ZipFile(raw) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            pickles = [n for n in infos if n == "data.pkl" or
                       (n.endswith("/data.pkl") and n.count("/") == 1)]
            if len(pickles) != 1:
                raise CheckpointError(
                    "zip archive has no <archive>/data.pkl: not a PyTorch checkpoint")
            prefix = pickles[0][: -len("data.pkl")]

            def read_member(name, min_bytes=0, max_bytes=None):
                info = infos[name]
                if info.file_size < min_bytes:
                    raise CheckpointError(f"{name}: {info.file_size} bytes where {min_bytes} "
                                          "are needed (truncated?)")
                if max_bytes is not None and info.file_size > max_bytes:
                    raise CheckpointError(f"{name}: {info.file_size} bytes, more than the "
                                          f"{max_bytes} such a member may have")
                budget.charge_read(info.file_size, name)
                with archive.open(info) as f:
                    data = f.read(info.file_size + 1)  # zipfile stops at the declared size
                if len(data) != info.file_size:
                    raise CheckpointError(f"{name}: {len(data)} bytes where the archive "
                                          f"declares {info.file_size}")
                return data

            big_endian = False
            if prefix + "byteorder" in infos:
                big_endian = read_member(prefix + "byteorder", max_bytes=16).strip() == b"big"

            def load_storage(storage_type, key, numel):
                member = f"{prefix}data/{key}"
                if member not in infos:
                    raise CheckpointError(f"storage {member} is missing from the archive")
                raw_bytes = read_member(member, min_bytes=numel * storage_type.dtype.itemsize)
                return _storage_array(raw_bytes, storage_type, numel, big_endian, member)

            data = read_member(pickles[0], max_bytes=MAX_PICKLE_BYTES)
            return _unpickle(io.BytesIO(data), load_storage, budget)
    except CheckpointError:
        raise
    except _ZIP_ERRORS as e:
        raise CheckpointError(f"corrupt or truncated zip archive ({e})") from None


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_RESAVE = "re-save it with torch.save(..., _use_new_zipfile_serialization=True)"
_NOT_A_CHECKPOINT = ("not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save "
                     "stream)")


def _load_legacy(path, budget):
    """The pre-1.6 torch.save stream, recognised by its magic number (the first pickle). It is
    read when it can be; what cannot is refused as legacy, with how to re-save it."""
    with open_regular(path) as f:
        def no_storage(storage_type, key, numel):
            raise CheckpointError("storage referenced in the legacy header")
        try:
            magic = _unpickle(_BoundedReader(f, 64, "the magic number"), no_storage, budget)
        except CheckpointError:
            raise CheckpointError(_NOT_A_CHECKPOINT) from None
        if magic != _LEGACY_MAGIC:
            raise CheckpointError(_NOT_A_CHECKPOINT)
        try:
            return _read_legacy_body(f, budget, no_storage)
        except (CheckpointError, OSError, EOFError) as e:  # the last two: reading the file
            raise CheckpointError(f"legacy torch.save format (torch < 1.6): {e}; {_RESAVE}") \
                from None


def _read_legacy_body(f, budget, no_storage):
    """After the magic: protocol, sys_info, the object pickle, the list of storage keys, then
    each storage as <int64 numel><raw bytes>. The object pickle comes before the storage data,
    so it is read twice: once to find its end, once with the data."""
    def bounded(what):
        return _BoundedReader(f, MAX_PICKLE_BYTES, what)

    file_bytes = os.fstat(f.fileno()).st_size
    protocol = _unpickle(bounded("the protocol version"), no_storage, budget)
    if protocol != _LEGACY_PROTOCOL:
        raise CheckpointError(f"unknown protocol version {str(protocol)[:40]}")
    _unpickle(bounded("sys_info"), no_storage, budget)  # endianness and type sizes of the saver
    object_start = f.tell()
    types = {}

    def record(storage_type, key, numel):
        types[key] = (storage_type, numel)
        return None

    _unpickle(bounded("the object pickle"), record, budget)
    keys = _unpickle(bounded("the storage key list"), no_storage, budget)
    if not isinstance(keys, list) or set(map(str, keys)) != set(types):
        raise CheckpointError("storage key list does not match the data")
    arrays = {}
    for key in map(str, keys):
        storage_type, numel = types[key]
        head = f.read(8)
        if len(head) != 8:
            raise CheckpointError(f"truncated at storage {key}")
        (stored_numel,) = struct.unpack("<q", head)
        if stored_numel != numel:
            raise CheckpointError(f"storage {key} has {stored_numel} elements, expected {numel}")
        nbytes = numel * storage_type.dtype.itemsize
        if nbytes > file_bytes - f.tell():
            raise CheckpointError(f"storage {key}: {nbytes} bytes past the end of the file "
                                  "(truncated?)")
        budget.charge_read(nbytes, f"storage {key}")
        arrays[key] = _storage_array(f.read(nbytes), storage_type, numel, False,
                                     f"storage {key}")
    f.seek(object_start)
    return _unpickle(bounded("the object pickle"),
                     lambda storage_type, key, numel: arrays[key], budget)


def open_regular(path, mode="rb", **kwargs):
    """Open `path` for reading without blocking on a named pipe, and only when it is a regular
    file: every file the converter reads goes through here. Raises OSError otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL,
                          "is a directory" if stat.S_ISDIR(st.st_mode)
                          else "not a regular file (a pipe or device)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


class Checkpoint:
    """A loaded checkpoint: the unpickled object and the raw bytes of the distinct storages
    its tensors came from (what bounds the size of the converter's output)."""

    def __init__(self, obj, storage_bytes):
        self.obj = obj
        self.storage_bytes = storage_bytes


def read_checkpoint(path, max_bytes=DEFAULT_MAX_CHECKPOINT_BYTES):
    """Load a torch.save file safely, reading at most `max_bytes` of it (see read_budget.py).
    Raises CheckpointError (message without the path) for anything unreadable or unsafe."""
    with open_regular(path) as f:
        head = f.read(512)
        file_bytes = os.fstat(f.fileno()).st_size
    if not head:
        raise CheckpointError("file is empty")
    budget = ReadBudget(file_bytes, max_bytes)
    if head.startswith(b"PK"):
        obj = _load_zip(path, budget)
    elif head[257:262] == b"ustar":
        raise CheckpointError(f"a tar archive: the legacy torch.save format of torch < 0.4; "
                              f"{_RESAVE} (with a torch that still reads it)")
    else:  # the legacy stream (of any pickle protocol) if it starts with its magic number
        obj = _load_legacy(path, budget)
    return Checkpoint(obj, budget.storage_bytes)


def load_checkpoint(path, max_bytes=DEFAULT_MAX_CHECKPOINT_BYTES):
    """The unpickled object of read_checkpoint: dicts, lists, numpy arrays for tensors, StandIn
    objects for modules, numpy scalars / NumpyArray for numpy values."""
    return read_checkpoint(path, max_bytes).obj


def module_state_dict(module, prefix=""):
    """The state_dict torch would give for a stand-in nn.Module: parameters, then persistent
    buffers, then submodules recursively with dotted names; None entries are skipped.
    Entries that are not tensors (numpy arrays) raise CheckpointError."""
    out = OrderedDict()
    _collect(module, prefix, out, depth=0)
    return out


def _collect(module, prefix, out, depth):
    if depth > 64:  # real networks nest a handful of levels; a deep chain is a crafted file
        raise CheckpointError(f"module nesting deeper than 64 at {prefix or 'top'}")
    state = module.__dict__
    non_persistent = state.get("_non_persistent_buffers_set") or set()
    if not isinstance(non_persistent, (set, frozenset, list, tuple)):
        raise CheckpointError(f"{prefix or 'top'}: _non_persistent_buffers_set is of type "
                              f"{type(non_persistent).__name__}, not a set")
    for table in ("_parameters", "_buffers"):
        entries = state.get(table) or {}
        if not isinstance(entries, dict):
            raise CheckpointError(f"{prefix or 'top'}: {table} is of type "
                                  f"{type(entries).__name__}, not a dict")
        for name, value in entries.items():
            if not isinstance(name, str):
                raise CheckpointError(f"{prefix or 'top'}: {table} has a non-string name")
            if value is None or (table == "_buffers" and name in non_persistent):
                continue
            if not isinstance(value, np.ndarray):
                raise CheckpointError(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
            out[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not is_module(child):
            raise CheckpointError(f"{prefix}{name} is not a module")
        _collect(child, f"{prefix}{name}.", out, depth + 1)
