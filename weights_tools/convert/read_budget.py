"""The bounds a checkpoint read stays within (docs/design.md, "Limits on untrusted input").

What it is: the named limits on what reading one checkpoint may cost, and `ReadBudget`, which
checkpoint.py charges *before* it inflates a zip member, reads a storage or materialises a
tensor, so a small crafted file cannot make the converter allocate gigabytes:
  - a zip member (data.pkl or a storage) that inflates far past the file's own size: the bytes
    inflated, over all members read, are bounded by MAX_INFLATE_RATIO x the file's size and by
    an absolute cap (`--max-checkpoint-bytes`);
  - tensor views that repeat their storage (zero or overlapping strides, or many views of one
    storage): the bytes of tensors materialised are bounded by `tensor_bytes_bound` of the
    bytes of the distinct storages read. The converter applies the same bound to what it writes,
    which catches one tensor written out under many names.

What it is not: the reader (checkpoint.py) or the converter's YAML and argument limits
(converter.py).
"""


class CheckpointError(ValueError):
    """The file is not a checkpoint we can read safely; the message says why."""


# data.pkl of a YOLOv5x training checkpoint is well under 1 MiB. Unpickling costs up to ~75x its
# size in Python objects (an empty dict from each byte: 8 MiB of them take 0.6 GiB), so this
# keeps a crafted pickle well under 2 GiB.
MAX_PICKLE_BYTES = 8 << 20

# torch.save stores members uncompressed (ratio 1). A re-zipped checkpoint of float weights
# deflates by a few percent; only a crafted member (or an all-zero model) inflates 32x.
MAX_INFLATE_RATIO = 32

# Absolute cap on the bytes read from one checkpoint (data.pkl + storages): a YOLOv5x training
# checkpoint with its optimizer state is about 0.5 GiB. `--max-checkpoint-bytes` raises it.
DEFAULT_MAX_CHECKPOINT_BYTES = 4 << 30

# Bytes of tensors materialised (and written) per byte of distinct storage read, plus a slack:
# plain tensors take 1, bfloat16 widened to float32 takes 2 (float64 narrows to float32 on
# output); the slack leaves room for small expanded views (zero strides), such as a bias
# saved as `b.expand(...)`, while a one-float storage viewed as gigabytes is refused.
MAX_BYTES_PER_STORAGE_BYTE = 2
TENSOR_BYTES_SLACK = 1 << 20


def tensor_bytes_bound(storage_bytes):
    """The most bytes of tensors that `storage_bytes` of distinct storage data may give."""
    return MAX_BYTES_PER_STORAGE_BYTE * storage_bytes + TENSOR_BYTES_SLACK


def format_bytes(n):
    """1536 -> '1.5 KiB': sizes in messages."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


class ReadBudget:
    """What one checkpoint read has cost so far, checked against the limits above."""

    def __init__(self, file_bytes, max_bytes=DEFAULT_MAX_CHECKPOINT_BYTES):
        self.file_bytes = file_bytes
        self.max_bytes = max_bytes
        self.read_bytes = 0      # inflated or read from the file: data.pkl and storages
        self.storage_bytes = 0   # raw bytes of the distinct storages loaded
        self.tensor_bytes = 0    # bytes of the tensors materialised from them

    def charge_read(self, nbytes, what):
        """Before reading (or inflating) `nbytes` more of the checkpoint for `what`."""
        total = self.read_bytes + nbytes
        if total > self.max_bytes:
            raise CheckpointError(
                f"{what}: reading it brings the checkpoint's data to {format_bytes(total)}, over "
                f"the limit of {format_bytes(self.max_bytes)} (--max-checkpoint-bytes raises it)")
        if total > MAX_INFLATE_RATIO * max(self.file_bytes, 1):
            raise CheckpointError(
                f"{what}: the archive's members inflate to {format_bytes(total)} from a "
                f"{format_bytes(self.file_bytes)} file, more than {MAX_INFLATE_RATIO}x "
                "(a zip bomb?)")
        self.read_bytes = total

    def charge_storage(self, nbytes):
        self.storage_bytes += nbytes

    def charge_tensor(self, nbytes, what):
        """Before materialising a tensor of `nbytes` from the storages loaded so far."""
        total = self.tensor_bytes + nbytes
        if total > tensor_bytes_bound(self.storage_bytes):
            raise CheckpointError(
                f"{what}: tensors would take {format_bytes(total)} from "
                f"{format_bytes(self.storage_bytes)} of storage data (zero or overlapping strides "
                f"repeat their storage; at most {MAX_BYTES_PER_STORAGE_BYTE}x + "
                f"{format_bytes(TENSOR_BYTES_SLACK)} is materialised)")
        self.tensor_bytes = total
