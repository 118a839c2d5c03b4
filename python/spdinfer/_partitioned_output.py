"""A batch job's output folder: one JSON-lines file per partition, resumable partition by partition.

What it is: the layout of OUT (job.json, part-NNNNN.jsonl), the rule that makes a rerun safe, and
the lock that keeps two runs out of one folder. A partition file appears only by an atomic rename
of a finished, fsynced temporary file (.part-NNNNN.jsonl.tmp), so a killed run leaves at worst a
temporary file, never a half partition under the final name; a partition whose file is there with
one line per image is complete and is skipped on a rerun. job.json records what the partitions
are slices of (the model, the options, the image list, the partition size): a rerun with other
inputs is refused rather than mixed into the old files.
What it is not: a scheduler (the Dask module runs the partitions) or a writer of the lines
themselves (_records).
"""

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass

JOB_FORMAT = "spdinfer batch detection job"
JOB_VERSION = 1
# job.json's keys as a refusal names them ("holds a job with other options"); "partitions"
# follows from the images and the partition size, which are named instead.
_KEY_WORDS = {"model_sha256": "model file", "images_sha256": "images", "partition_size": "partition size",
              "partitions": None}


class OutputError(ValueError):
    """The output folder cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Partition:
    index: int
    images: tuple  # the image paths as given, in job order
    path: str      # its final file


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _list_sha256(paths):
    digest = hashlib.sha256()
    for p in paths:
        digest.update(os.fsencode(p) + b"\0")
    return digest.hexdigest()


def _fsync_folder(folder):
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path, text):
    """Writes `text` to `path` through a temporary file renamed over it once it is on disk."""
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.tmp")
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    _fsync_folder(folder or ".")


# Records are written with sorted keys, so an image's error record, and only it, starts so.
_ERROR_RECORD_START = b'{"error":'


def _scan(path):
    """(lines, lines that are error records) of a partition file."""
    lines = errors = 0
    with open(path, "rb") as f:
        for line in f:
            lines += 1
            errors += line.startswith(_ERROR_RECORD_START)
    return lines, errors


class PartitionedOutput:
    """OUT for one job. Use as a context manager: it holds OUT's lock while open."""

    def __init__(self, folder, images, partition_size, identity):
        """`identity`: what else makes the job this job (model file and digest, options), JSON-able."""
        if partition_size < 1:
            raise OutputError(f"partition size must be at least 1, got {partition_size}")
        self.folder = os.fspath(folder)
        count = (len(images) + partition_size - 1) // partition_size
        width = max(5, len(str(count - 1)))
        self.partitions = [
            Partition(i, tuple(images[i * partition_size:(i + 1) * partition_size]),
                      os.path.join(self.folder, f"part-{i:0{width}d}.jsonl"))
            for i in range(count)]
        self.job = {"format": JOB_FORMAT, "version": JOB_VERSION, **identity, "images": len(images),
                    "images_sha256": _list_sha256(images), "partition_size": partition_size,
                    "partitions": count}
        self._lock_file = None

    # ---- the folder and its lock ------------------------------------------------------------

    def __enter__(self):
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{self.folder}: cannot create output directory: {e.strerror}") from None
        if not os.path.isdir(self.folder):
            raise OutputError(f"{self.folder}: not a directory")
        lock_path = os.path.join(self.folder, ".lock")
        try:
            self._lock_file = open(lock_path, "a")
        except OSError as e:
            raise OutputError(f"{lock_path}: cannot open: {e.strerror}") from None
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise OutputError(f"{self.folder}: another job is writing into this directory") from None
        try:
            self._check_or_write_job()
            self._remove_stale_temporaries()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None

    def _check_or_write_job(self):
        job_path = os.path.join(self.folder, "job.json")
        if os.path.exists(job_path):
            try:
                with open(job_path, encoding="utf-8") as f:
                    previous = json.load(f)
            except (OSError, ValueError) as e:
                raise OutputError(f"{job_path}: unreadable ({e}); delete it to start the job anew") from None
            if not isinstance(previous, dict) or previous.get("format") != JOB_FORMAT:
                raise OutputError(f"{job_path}: not a spdinfer job file; choose another output directory")
            differing = sorted({_KEY_WORDS.get(k, k) for k in set(previous) | set(self.job)
                                if previous.get(k) != self.job.get(k)} - {None})
            if differing:
                raise OutputError(
                    f"{job_path}: this directory holds a job with other {', '.join(differing)}; "
                    f"choose another output directory, or delete it to start anew")
            return
        if any(os.path.exists(p.path) for p in self.partitions):
            raise OutputError(f"{self.folder}: has partition files but no job.json; choose another output directory")
        write_atomically(job_path, json.dumps(self.job, indent=1, sort_keys=True) + "\n")

    def _remove_stale_temporaries(self):
        """Temporary files of a run that was killed: with the lock held, nothing else writes them."""
        for p in self.partitions:
            folder, name = os.path.split(p.path)
            temporary = os.path.join(folder, f".{name}.tmp")
            if os.path.exists(temporary):
                os.remove(temporary)

    # ---- partitions -------------------------------------------------------------------------

    def completed_errors(self, partition):
        """None when the partition is still to run; else how many of its images were refused.
        It is complete when its file is there with one line per image (only a rename puts it
        there, so a file of another length was edited since, and is redone)."""
        try:
            lines, errors = _scan(partition.path)
        except FileNotFoundError:
            return None
        return errors if lines == len(partition.images) else None

    def write(self, partition, lines):
        if len(lines) != len(partition.images):
            raise OutputError(f"{partition.path}: {len(lines)} lines for {len(partition.images)} images")
        write_atomically(partition.path, "".join(line + "\n" for line in lines))
