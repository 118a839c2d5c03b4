"""Fuzzes the converter's checkpoint reader (weights_tools/convert/checkpoint.py and what
convert() does with what it reads): a seeded, bounded-time mutation harness in pure Python, the
Python counterpart of the libFuzzer targets beside it.

  /usr/bin/python3 -m tests.fuzz.fuzz_checkpoint [--seconds 60] [--seed 1] [--artifacts DIR]

Seeds are real checkpoints torch.save'd at start (zip and legacy streams, a state_dict, a
YOLOv5-style training checkpoint of stand-in modules and numpy values, tensors of every dtype
and view, the same big-endian), plus tests/fuzz/corpus/checkpoint/ (variants torch.save does not
write by default: pickle protocol 4, members deflated), plus the mutants earlier runs kept (in
ARTIFACTS/corpus/, as libFuzzer keeps build-fuzz/corpus/). Mutations: byte flips, truncations,
inserted or deleted bytes; for zips, members swapped, duplicated, dropped, renamed, deflated or
given a lying size; for pickles (data.pkl, or a legacy stream), opcodes inserted and integer
arguments (sizes, strides, offsets, element counts) set to boundary values.
tests/fuzz/regressions/checkpoint/ is replayed first.

Every input must end in a converted file or the converter's own ConvertError, within
PER_INPUT_SECONDS, in a worker process limited to MEMORY_LIMIT of address space (RLIMIT_AS).
Anything else (another exception, a crash, a timeout) is a failure: the input is kept in the
artifacts folder (make it a regression input) and the exit status is 1.

Why not atheris: it would be a PyPI package in a virtual environment beside Debian's python3
(which has the torch the seeds need); this needs nothing the converter's tests do not have.
"""

import argparse
import collections
import hashlib
import io
import pickle
import os
import random
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "fuzz" / "corpus" / "checkpoint"
REGRESSIONS = REPO / "tests" / "fuzz" / "regressions" / "checkpoint"
MEMORY_LIMIT = 2 << 30
PER_INPUT_SECONDS = 20
MAX_POOL = 64  # mutants kept as seeds, in a run and in the grown corpus

# Pickle opcodes worth inserting: containers, memo and stack ops, globals (allowed and not),
# persistent ids, and arguments whose lengths or values are extreme.
PICKLE_SNIPPETS = [
    b"]", b"}", b")", b"(", b"t", b"l", b"d", b"a", b"e", b"s", b"u", b"R", b"b", b"0", b"1",
    b"2", b"N", b"\x88", b"\x89", b"\x85", b"\x86", b"\x87", b"\x94", b"Q", b".",
    b"h\x00", b"h\xff", b"j\xff\xff\xff\x7f", b"q\x00", b"r\xff\xff\xff\x7f",
    b"K\x00", b"K\xff", b"M\xff\xff", b"J\xff\xff\xff\x7f", b"J\x00\x00\x00\x80",
    b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f", b"\x8a\x01\xff",
    b"X\xff\xff\xff\x7f", b"X\x05\x00\x00\x00\xff\xfe\xfd\xfc\xfb", b"\x8e" + b"\xff" * 8,
    b"B\xff\xff\xff\x7f", b"C\x04abcd", b"\x95\xff\xff\xff\xff\xff\xff\xff\x7f",
    b"ctorch._utils\n_rebuild_tensor_v2\n", b"ctorch\nFloatStorage\n",
    b"ccollections\nOrderedDict\n", b"cos\nsystem\n", b"cbuiltins\ngetattr\n",
    b"cmodels.yolo\nModel\n", b"cnumpy\ndtype\n", b"c__builtin__\nset\n",
    b"\x8c\x08__dict__", b"\x8c\x07storage", b"\x8c\x01\x00", b"\x93", b"\x81", b"\x92",
]
BOUNDARY_INTS = [0, 1, 2, 3, 255, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]


# ---- seeds ------------------------------------------------------------------------------

def make_seeds(directory):
    """Small real checkpoints written with torch (imported here only, before the worker)."""
    import numpy as np
    import torch

    from tests.python.helpers import make_resnet_spd, make_tiny_yolov5_model
    torch.manual_seed(0)
    base = torch.randn(6, 10)
    views = {"contiguous": torch.randn(2, 3), "view": base[1:5, 2:9:3], "t": base.t(),
             "expanded": torch.randn(3, 1).expand(3, 4), "half": torch.randn(4).half(),
             "bf16": torch.randn(3).bfloat16(), "double": torch.randn(2).double(),
             "long": torch.tensor([1, -2]), "empty": torch.zeros(0, 3), "scalar": torch.tensor(1.5)}
    state = make_resnet_spd("basic", (1, 1, 1, 1), 10, width=4).state_dict()
    seeds = {
        "resnet_state_dict.pt": (state, {}),
        "resnet_legacy_p2.pt": (state, {"_use_new_zipfile_serialization": False}),
        "views.pt": (views, {}),
        "views_legacy_p4.pt": (views, {"_use_new_zipfile_serialization": False,
                                       "pickle_protocol": 4}),
        "yolo_training.pt": ({"model": make_tiny_yolov5_model(1), "ema": None, "epoch": 3,
                              "best_fitness": np.float64(0.5), "results": np.arange(3.0)}, {}),
    }
    paths = []
    for name, (obj, options) in seeds.items():
        path = Path(directory) / name
        torch.save(obj, path, **options)
        paths.append(path)
    paths.append(big_endian_copy(Path(directory) / "views.pt",
                                 Path(directory) / "views_big_endian.pt"))
    return paths


class _StorageTypes(pickle.Unpickler):
    """Reads a checkpoint's data.pkl only to learn each storage's key and element type (a plain
    dict of tensors: the tensors themselves come out as None)."""

    def __init__(self, data):
        super().__init__(io.BytesIO(data))
        self.types = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch" and name.endswith("Storage"):
            return name
        return lambda *args, **kwargs: None

    def persistent_load(self, pid):
        self.types[str(pid[2])] = pid[1]


ELEMENT_BYTES = {"HalfStorage": 2, "BFloat16Storage": 2, "FloatStorage": 4, "DoubleStorage": 8,
                 "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2}


def big_endian_copy(path, out):
    """`path` (a zip checkpoint of a dict of tensors) as a big-endian machine writes it: a
    `byteorder` member saying "big" and every storage's elements byte-swapped."""
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    prefix = next(n for n in members if n.endswith("data.pkl"))[: -len("data.pkl")]
    reader = _StorageTypes(members[prefix + "data.pkl"])
    reader.load()
    for key, storage_type in reader.types.items():
        size, name = ELEMENT_BYTES.get(storage_type, 1), f"{prefix}data/{key}"
        data = members[name]
        members[name] = b"".join(data[i:i + size][::-1] for i in range(0, len(data), size))
    members[prefix + "byteorder"] = b"big"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out


# ---- mutations --------------------------------------------------------------------------

def flip_bytes(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def truncate(data, rng):
    return data[: rng.randrange(len(data) + 1)]


def splice_bytes(data, rng):
    at = rng.randrange(len(data) + 1)
    if rng.random() < 0.5:
        return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + data[at:]
    return data[:at] + data[at + rng.randint(1, 64):]


def mutate_pickle(data, rng):
    """Insert opcodes, or set an integer argument (BININT1/2/4) to a boundary value."""
    data = bytearray(data)
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.choice(PICKLE_SNIPPETS)
        return bytes(data)
    spots = [i for i, op in enumerate(data) if op in b"KMJ"]
    for _ in range(rng.randint(1, 3)):
        if not spots:
            break
        i = rng.choice(spots)
        if data[i] not in b"KMJ":  # an earlier pass wrote an argument over this opcode
            continue
        width = {ord("K"): 1, ord("M"): 2, ord("J"): 4}[data[i]]
        value = rng.choice(BOUNDARY_INTS) % (1 << (8 * width))
        data[i + 1:i + 1 + width] = value.to_bytes(width, "little")[:len(data[i + 1:i + 1 + width])]
    return bytes(data)


def mutate_zip(data, rng):
    """Rebuild the archive with its members swapped, duplicated, dropped, renamed, deflated,
    a pickle mutated, or a size that lies; unreadable archives get byte mutations instead."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = [(i.filename, z.read(i)) for i in z.infolist()]
    except Exception:  # already broken by an earlier mutation: keep mutating bytes
        return flip_bytes(data, rng)
    if not members:
        return data
    op = rng.randrange(8)
    i, j = rng.randrange(len(members)), rng.randrange(len(members))
    compress = zipfile.ZIP_STORED
    if op == 0:
        members[i], members[j] = (members[i][0], members[j][1]), (members[j][0], members[i][1])
    elif op == 1:
        members.append(members[i])
    elif op == 2:
        del members[i]
    elif op == 3:
        name = members[i][0]
        members[i] = (name.rsplit("/", 1)[0] + "/" + rng.choice(["0", "data.pkl", "x", ""]),
                      members[i][1])
    elif op == 4:
        compress = zipfile.ZIP_DEFLATED
    elif op == 7:
        return rebuild_zip(members, compress=zipfile.ZIP_DEFLATED, lying=(
            members[i][0], rng.choice([0, 1, len(members[i][1]) // 2, 2 ** 31, 2 ** 32 - 1])))
    else:
        pickles = [k for k, (name, _) in enumerate(members) if name.endswith("data.pkl")]
        k = pickles[0] if pickles and op == 5 else i
        members[k] = (members[k][0], mutate_pickle(members[k][1], rng) if op == 5
                      else members[k][1] * rng.randint(2, 64))
    return rebuild_zip(members, compress)


def rebuild_zip(members, compress, lying=None):
    """A zip of (name, data) members; `lying` = (name, size) declares that member's size wrong."""
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", compress) as z:
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        for name, payload in members:
            z.writestr(name, payload)
    return declare_member_size(out.getvalue(), *lying) if lying else out.getvalue()


def declare_member_size(blob, name, declared):
    """`blob` (a zip) with the uncompressed size of member `name` rewritten in its local header
    and its central directory entry: a header that lies about how far the data inflates."""
    blob = bytearray(blob)
    with zipfile.ZipFile(io.BytesIO(bytes(blob))) as z:
        info = z.getinfo(name)
    struct.pack_into("<I", blob, info.header_offset + 22, declared)
    at = blob.find(b"PK\x01\x02")  # central directory entries
    while at != -1:
        name_len = struct.unpack_from("<H", blob, at + 28)[0]
        if blob[at + 46:at + 46 + name_len] == name.encode():
            struct.pack_into("<I", blob, at + 24, declared)
        at = blob.find(b"PK\x01\x02", at + 4)
    return bytes(blob)


def mutate(data, rng):
    is_zip = data[:2] == b"PK"
    choices = [flip_bytes, truncate, splice_bytes, mutate_pickle]
    if is_zip:
        choices += [mutate_zip] * 4
    result = data
    for _ in range(rng.randint(1, 3)):
        result = rng.choice(choices)(result, rng) or result
    return result


# ---- the worker: converts one input per request, in a bounded address space ----------------

def worker():
    """The process that converts: its address space is bounded, so a bomb shows as an error."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    with tempfile.TemporaryDirectory(prefix="fuzz_checkpoint_out_") as out_dir:
        convert_each(os.path.join(out_dir, "out.safetensors"))


def convert_each(out):
    """For each path on stdin, one verdict line on stdout."""
    from weights_tools.convert.converter import ConvertError, convert
    # What Python could only print (an error in a destructor, a buffer freed while exported)
    # is a failure too: stderr goes to a file, read after each input.
    with tempfile.TemporaryFile() as printed:
        os.dup2(printed.fileno(), 2)
    for line in sys.stdin:
        path = line.rstrip("\n")
        try:
            convert(path, out)
            verdict = "ok"
        except ConvertError:
            verdict = "refused"
        except BaseException as e:  # what the harness exists to find
            where = traceback.extract_tb(e.__traceback__)[-1]
            verdict = (f"FAIL {type(e).__name__}: {str(e)[:200]!r} at "
                       f"{os.path.basename(where.filename)}:{where.lineno}")
        sys.stderr.flush()
        if os.fstat(2).st_size and not verdict.startswith("FAIL"):
            verdict = f"FAIL printed to stderr: {os.pread(2, 200, 0)!r}"
        os.ftruncate(2, 0)
        os.lseek(2, 0, os.SEEK_SET)
        if os.path.exists(out):
            os.unlink(out)
        print(verdict, flush=True)


class Worker:
    """The worker process, restarted after it dies or hangs."""

    def __init__(self):
        self.proc = None

    def run(self, path):
        """The worker's verdict on `path`: 'ok', 'refused', or a failure description."""
        if self.proc is None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.fuzz.fuzz_checkpoint", "--worker"], cwd=REPO,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], PER_INPUT_SECONDS)
        if not ready:
            self.stop()
            return f"FAIL timeout: no answer within {PER_INPUT_SECONDS} s"
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return f"FAIL crash: worker exited with {code}"
        return line.strip()

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def main():
    parser = argparse.ArgumentParser(prog="fuzz_checkpoint", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--artifacts", type=Path, default=REPO / "build" / "fuzz-checkpoint")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    with tempfile.TemporaryDirectory(prefix="fuzz_checkpoint_") as work:
        return fuzz(args, Path(work))


def fuzz(args, work):
    """The run: seeds and regressions, then mutants until the time is up; exit status."""
    rng = random.Random(args.seed)
    grown = args.artifacts / "corpus"  # mutants that converted, kept for later runs
    grown.mkdir(parents=True, exist_ok=True)
    seeds = make_seeds(work) + sorted(CORPUS.glob("*")) + sorted(grown.glob("*"))[:MAX_POOL]
    pool = [p.read_bytes() for p in seeds]
    runner = Worker()
    counts = {"ok": 0, "refused": 0}
    failures = []

    def check(path, data):
        verdict = runner.run(path)
        if verdict.startswith("FAIL timeout"):  # a real hang happens again in a fresh worker;
            verdict = runner.run(path)          # a busy machine's stall does not
        if verdict in counts:
            counts[verdict] += 1
            return verdict
        kept = args.artifacts / f"failure-{len(failures)}-{args.seed}.pt"
        kept.write_bytes(data)
        failures.append(verdict)
        print(f"fuzz_checkpoint: {verdict} (input kept in {kept})", file=sys.stderr)
        return verdict

    for path in seeds + sorted(REGRESSIONS.glob("*")):
        check(path, path.read_bytes())
    start = time.monotonic()
    candidate = work / "input.pt"
    while time.monotonic() - start < args.seconds and len(failures) < 20:
        data = mutate(rng.choice(pool), rng)
        candidate.write_bytes(data)
        if check(candidate, data) == "ok" and len(pool) < MAX_POOL + len(seeds):
            pool.append(data)  # a mutant that still converts is a new seed
            (grown / f"{hashlib.sha1(data).hexdigest()}.pt").write_bytes(data)
    runner.stop()
    total = counts["ok"] + counts["refused"] + len(failures)
    print(f"fuzz_checkpoint: seed {args.seed}, {total} inputs in "
          f"{time.monotonic() - start:.0f} s: {counts['ok']} converted, {counts['refused']} "
          f"refused, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
