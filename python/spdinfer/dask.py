"""spdinfer.dask: object detection over many images on a Dask cluster, one model per worker.

    python3 -m spdinfer.dask MODEL IMAGES... --out DIR [--workers N] [--threads T]
    python3 -m spdinfer.dask MODEL --manifest LIST.txt --out DIR --scheduler tcp://host:8786

    import spdinfer.dask
    report = spdinfer.dask.detect_images("model.safetensors", ["scenes/*.png"], "out/", workers=2)

The images (files, folders, glob patterns, manifests: expanded as `spdinfer detect` expands them)
are cut into partitions of --partition-size images; each partition is one Dask task, and each
worker process loads the model once, with T engine threads, on the first partition it runs. The
client writes each partition's JSON lines (the fields of `spdinfer detect --json`) to
DIR/part-NNNNN.jsonl as soon as it is done, through a temporary file and a rename: a rerun skips
every partition whose file is complete and runs the rest, so a killed job goes on where it stopped.

Without --scheduler the job starts a local cluster of N worker processes on this machine; with it,
the same command runs on an existing cluster (`dask scheduler` + `dask worker ADDRESS` on each
machine, with spdinfer importable there). Workers read the model and the images themselves, at the
absolute paths the client sees: on several machines, keep them on a shared file system.

What it is not: a reader of images on the client (only paths travel), nor sliced inference (use
`spdinfer detect --slice`). Why Dask rather than Ray: docs/scale-out.md.
"""

import argparse
import asyncio
import logging
import os
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

import spdinfer
from spdinfer._image_list import ImageListError, expand_images
from spdinfer._partitioned_output import OutputError, PartitionedOutput, file_sha256
from spdinfer._records import detection_line, error_line

PROG = "spdinfer.dask"
DEFAULT_PARTITION_SIZE = 100
CONNECT_TIMEOUT_S = 30   # to reach a scheduler at --scheduler
WORKERS_TIMEOUT_S = 120  # for the first worker to join a scheduler that has none


class JobError(ValueError):
    """The job cannot run or did not finish; the message names what is wrong."""


# ---- on the workers --------------------------------------------------------------------------

_models = {}  # (model path, threads) -> spdinfer.Model: what this worker process has loaded
_models_lock = threading.Lock()


def _worker_model(path, threads):
    """The model, loaded by the first partition this process runs and kept for the next ones (a
    worker with several Dask threads shares it: a Model may serve many threads)."""
    with _models_lock:
        model = _models.get((path, threads))
        if model is None:
            model = _models[(path, threads)] = spdinfer.load(path, threads=threads)
        return model


@dataclass
class PartitionResult:
    lines: list
    image_errors: int
    seconds: float
    host: str
    pid: int


def detect_partition(model_path, threads, options, images):
    """One partition, run by a worker: `images` are (path as given, path to read) pairs. An image
    the engine refuses becomes an error line; anything else fails the partition."""
    model = _worker_model(model_path, threads)
    start = time.perf_counter()
    lines, errors = [], 0
    for shown, readable in images:
        try:
            lines.append(detection_line(shown, model.detect(readable, **options)))
        except spdinfer.Error as e:
            lines.append(error_line(shown, str(e)))
            errors += 1
    return PartitionResult(lines, errors, time.perf_counter() - start, socket.gethostname(), os.getpid())


# ---- on the client ---------------------------------------------------------------------------

@dataclass
class JobReport:
    """What a call did. `run` and `skipped` are partition indices; `images_per_second` counts the
    images of the partitions run, over `seconds` (first task sent to last partition written)."""
    out: str
    images: int
    partitions: int
    run: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    image_errors: int = 0
    workers: int = 0
    threads: int = 1
    startup_seconds: float = 0.0
    seconds: float = 0.0
    images_per_second: float = 0.0


def detection_options(conf=0.25, iou=0.45, max_det=1000, classes=None, agnostic=False, img_size=None):
    """Model.detect's keyword arguments, checked here so a bad one stops the job before any worker
    starts."""
    for name, value in (("conf", conf), ("iou", iou)):
        if not 0.0 <= value <= 1.0:
            raise JobError(f"{name} {value}: must be in [0, 1]")
    if max_det < 1:
        raise JobError(f"max_det {max_det}: must be at least 1")
    if img_size is not None and not 32 <= img_size <= 8192:
        raise JobError(f"img_size {img_size}: must be in [32, 8192]")
    classes = None if classes is None else sorted({int(c) for c in classes})
    if classes is not None and any(c < 0 for c in classes):
        raise JobError(f"classes {classes}: class ids are not negative")
    return {"conf": float(conf), "iou": float(iou), "max_det": int(max_det), "classes": classes,
            "agnostic": bool(agnostic), "img_size": img_size}


def _check_model(model_path, options):
    """Loads the model once on the client, so a wrong file or class id fails here in one line
    rather than on every worker."""
    try:
        info = spdinfer.load(model_path).info
    except spdinfer.Error as e:
        raise JobError(str(e)) from None
    if info["family"] != "yolov5":
        raise JobError(f"{model_path}: is a {info['family']} classifier, not a YOLOv5 detector")
    for c in options["classes"] or ():
        if c >= info["classes"]:
            raise JobError(f"classes {c}: the model has {info['classes']} classes (0-{info['classes'] - 1})")


class _Cluster:
    """A Dask client: on a new local cluster of `workers` processes, or on the scheduler at
    `scheduler`, or the caller's own `client` (left open)."""

    def __init__(self, workers=None, scheduler=None, client=None):
        self.workers, self.scheduler, self.client = workers, scheduler, client
        self._owned = []

    def __enter__(self):
        from distributed import Client, LocalCluster
        if self.client is not None:
            return self.client
        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as e:
                raise JobError(f"{self.scheduler}: cannot reach the Dask scheduler: {e}") from None
            self._owned.append(self.client)
            try:
                self.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
            except (TimeoutError, asyncio.TimeoutError):  # (one class from Python 3.11 on)
                self.__exit__()
                raise JobError(f"{self.scheduler}: no worker joined in {WORKERS_TIMEOUT_S} s "
                               f"(start some with `dask worker {self.scheduler}`)") from None
            return self.client
        # One Dask thread per worker process: the engine's threads (--threads) do the parallel work.
        cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        self.client = Client(cluster)
        self._owned += [cluster, self.client]  # closed last to first: the client before its cluster
        return self.client

    def __exit__(self, *exc):
        while self._owned:
            self._owned.pop().close()


def _log_to_stderr(message):
    print(message, file=sys.stderr, flush=True)


def detect_images(model, images=(), out="detections", *, manifests=(), workers=None, threads=1,
                  scheduler=None, client=None, partition_size=DEFAULT_PARTITION_SIZE, conf=0.25,
                  iou=0.45, max_det=1000, classes=None, agnostic=False, img_size=None,
                  log=_log_to_stderr):
    """Detects objects in `images` (paths, folders, glob patterns) and the images listed in
    `manifests`, writing OUT/part-NNNNN.jsonl; returns a JobReport. Partitions whose file is
    complete are skipped. Runs on a local cluster of `workers` processes (default: cores /
    threads), or on `scheduler` (an address), or on `client` (a distributed.Client). Raises
    JobError when the job cannot run or a partition fails; an image the engine refuses is an
    "error" line, counted in the report, and does not stop the job."""
    if not 1 <= threads <= 256:
        raise JobError(f"threads {threads}: must be in [1, 256]")
    if workers is not None and (scheduler or client):
        raise JobError("workers: only for a local cluster; a scheduler's workers are its own")
    if workers is not None and workers < 1:
        raise JobError(f"workers {workers}: must be at least 1")
    options = detection_options(conf, iou, max_det, classes, agnostic, img_size)
    images, manifests = _as_list(images), _as_list(manifests)
    model = os.path.abspath(os.fspath(model))
    if not os.path.isfile(model):
        raise JobError(f"{model}: no such model file")
    try:
        paths = expand_images(images, manifests, note=lambda m: log(f"{PROG}: note: {m}"))
    except ImageListError as e:
        raise JobError(str(e)) from None
    _check_model(model, options)

    identity = {"model_sha256": file_sha256(model), "options": options}
    try:
        with PartitionedOutput(out, paths, partition_size, identity) as output:
            report = JobReport(out=output.folder, images=len(paths), partitions=len(output.partitions),
                               threads=threads)
            todo = []
            for p in output.partitions:
                errors = output.completed_errors(p)
                if errors is None:
                    todo.append(p)
                else:
                    report.skipped.append(p.index)
                    report.image_errors += errors
            if report.skipped:
                log(f"{PROG}: {len(report.skipped)} of {report.partitions} partitions complete, skipped")
            if todo:
                _run_partitions(output, todo, model, threads, options, report, log,
                                workers or max(1, (os.cpu_count() or 1) // threads), scheduler, client)
    except OutputError as e:
        raise JobError(str(e)) from None
    return report


def _as_list(paths):
    """One path, or several: a lone string is one path, not a sequence of one-letter names."""
    return [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)


def _run_partitions(output, todo, model, threads, options, report, log, workers, scheduler, client):
    from distributed import as_completed
    started = time.perf_counter()
    with _Cluster(workers, scheduler, client) as dask_client:
        report.workers = len(dask_client.scheduler_info()["workers"])
        report.startup_seconds = time.perf_counter() - started
        log(f"{PROG}: {len(todo)} partitions of up to {len(todo[0].images)} images on "
            f"{report.workers} workers x {threads} threads")
        started = time.perf_counter()
        futures = {}
        for p in todo:
            pairs = [(shown, os.path.abspath(shown)) for shown in p.images]
            futures[dask_client.submit(detect_partition, model, threads, options, pairs, pure=False,
                                       key=f"detect-partition-{p.index}-{os.urandom(6).hex()}")] = p
        images_run = 0
        for future in as_completed(futures):
            p = futures.pop(future)
            if future.status != "finished":
                error = future.exception()
                for other in futures:
                    other.cancel()
                hint = (" (spdinfer must be importable on every worker: install it there, or start the "
                        "workers with PYTHONPATH=.../build/python)" if isinstance(error, ImportError) else "")
                raise JobError(f"{p.path}: the partition failed on its worker: {type(error).__name__}: "
                               f"{error}{hint}; {len(report.run)} partitions were written, a rerun goes on "
                               f"from there")
            result = future.result()
            output.write(p, result.lines)
            report.run.append(p.index)
            report.image_errors += result.image_errors
            images_run += len(p.images)
            log(f"{os.path.basename(p.path)}: {len(p.images)} images in {result.seconds:.1f} s "
                f"on {result.host} pid {result.pid}"
                + (f", {result.image_errors} refused" if result.image_errors else ""))
        report.seconds = time.perf_counter() - started
        report.images_per_second = images_run / report.seconds if report.seconds > 0 else 0.0
    report.run.sort()


# ---- the command -----------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see --help)\n")


def _class_list(text):
    try:
        return [int(c) for c in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected class ids like 0,2, got {text!r}") from None


def parse_arguments(argv):
    p = _Parser(prog=f"python3 -m {PROG}", description=__doc__.split("\n")[0],
                epilog="Exit status 0 when every image was detected; 2 on an error, or when some "
                       "images were refused (their lines carry \"error\").")
    p.add_argument("model", help="spdinfer model file (YOLOv5 family)")
    p.add_argument("images", nargs="*", help="image files, directories or glob patterns (JPEG, PNG, BMP)")
    p.add_argument("--manifest", action="append", default=[], metavar="FILE",
                   help="a file listing images, one path per line (relative to its folder); repeatable")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output directory: part-NNNNN.jsonl per partition and job.json")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="worker processes of the local cluster (default: cores / threads)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster at this address (tcp://host:8786) instead")
    p.add_argument("--threads", type=int, default=1, metavar="T", help="engine threads per worker")
    p.add_argument("--partition-size", type=int, default=DEFAULT_PARTITION_SIZE, metavar="N",
                   help="images per partition: one task, one output file, the unit of resuming")
    p.add_argument("--img", type=int, default=None,
                   help="inference size in pixels (longest side; default: the model's input size)")
    p.add_argument("--conf", type=float, default=0.25, help="confidence threshold")
    p.add_argument("--iou", type=float, default=0.45, help="NMS IoU threshold")
    p.add_argument("--max-det", type=int, default=1000, help="maximum detections per image")
    p.add_argument("--classes", type=_class_list, help="keep only these class ids, e.g. --classes 0,2")
    p.add_argument("--agnostic", action="store_true", help="class-agnostic NMS")
    p.add_argument("--json", action="store_true",
                   help="print the job's report as one JSON object on stdout (partitions run and skipped, "
                        "images/s); progress goes to stderr either way")
    args = p.parse_args(argv)
    if not args.images and not args.manifest:
        p.error("give images (files, directories, patterns) or --manifest FILE")
    return args


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    # Dask's informational lines (a worker directory purged after a killed run, say) would bury
    # the job's own; its warnings and errors still show. Dask reads this when it is first imported,
    # here and in the local cluster's worker processes, which inherit the environment.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    try:
        report = detect_images(
            args.model, args.images, args.out, manifests=args.manifest, workers=args.workers,
            threads=args.threads, scheduler=args.scheduler, partition_size=args.partition_size,
            conf=args.conf, iou=args.iou, max_det=args.max_det, classes=args.classes,
            agnostic=args.agnostic, img_size=args.img)
    except JobError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the partitions written are kept, a rerun goes on from there",
              file=sys.stderr)
        return 130
    if args.json:
        print(json_report(report))
    else:
        print(f"{report.images} images in {report.partitions} partitions: {len(report.run)} run, "
              f"{len(report.skipped)} skipped (complete)"
              + (f"; {report.images_per_second:.1f} images/s on {report.workers} workers x "
                 f"{report.threads} threads" if report.run else "")
              + f"; results in {report.out}")
    if report.image_errors:
        print(f"{PROG}: error: {report.image_errors} images could not be read; their lines in "
              f"{report.out} carry \"error\"", file=sys.stderr)
        return 2
    return 0


def json_report(report):
    import json
    return json.dumps(asdict(report), sort_keys=True)


if __name__ == "__main__":
    # Run as `python3 -m spdinfer.dask`: hand over to the module under its own name, so the task
    # function travels to the workers as spdinfer.dask.detect_partition (by reference), not as a
    # copy of __main__'s.
    from spdinfer.dask import main as _main
    sys.exit(_main())
