"""spdinfer.dask, the batch detection job, run as users run it (`python3 -m spdinfer.dask`):

- on a local cluster of 2 worker processes over 100 generated scenes it writes, each image exactly
  once and in order, the detections `spdinfer detect --json` gives for the same files (same boxes
  to 1e-3, same classes); a rerun after one partition's file is deleted, with the temporary file a
  killed run leaves in its place, runs that partition only (by the job's report and by the other
  files' mtimes) and writes it again identically;
- unchanged, on a cluster at a scheduler address (a scheduler and a worker started here, on the
  loopback interface);
- an image the engine refuses is an error line and exit status 2, not a lost image or a crash;
  bad arguments, a second job in the same directory and a rerun with other options end in one
  line and exit status 2 before any worker starts.

Small scenes (160 px), one engine thread per worker: the whole file runs in well under a minute.
"""

import fcntl
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import FASHION_MODEL, REPO, SCENE_MODEL, cli_json

SCENES = 100
SIZE = 160
DETECT_OPTIONS = ("--img", SIZE, "--conf", 0.1)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """SCENES generated test scenes (weights_tools/train/synth_scenes.py): their folder."""
    root = tmp_path_factory.mktemp("scenes")
    done = subprocess.run(
        [sys.executable, "-m", "weights_tools.train.synth_scenes", "--out", root, "--train", "0", "--val", "0",
         "--test", str(SCENES), "--size", str(SIZE), "--object-size", "10-30", "--objects", "3-8"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    folder = root / "images" / "test"
    assert len(list(folder.glob("*.png"))) == SCENES
    return folder


@pytest.fixture(scope="module")
def cli_lines(scenes):
    """`spdinfer detect --json` on the scenes: one dict per image."""
    return cli_json("detect", SCENE_MODEL, scenes, "--nosave", *DETECT_OPTIONS)


def run_job(*args, timeout=300):
    """`python3 -m spdinfer.dask ARGS --json` from the repo root: (CompletedProcess, report or None)."""
    done = subprocess.run([sys.executable, "-m", "spdinfer.dask", *map(str, args), "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    report = json.loads(done.stdout) if done.returncode in (0, 2) and done.stdout.strip() else None
    return done, report


def partition_files(out):
    return sorted(Path(out).glob("part-*.jsonl"))


def job_lines(out):
    return [json.loads(line) for f in partition_files(out) for line in f.read_text().splitlines()]


def assert_same_detections(job, cli):
    """The job's records against the command's, image by image (the job writes no "ms")."""
    assert [r["image"] for r in job] == [c["image"] for c in cli]
    for r, c in zip(job, cli):
        assert (r["width"], r["height"]) == (c["width"], c["height"]), r["image"]
        assert [d["class_id"] for d in r["detections"]] == [d["class_id"] for d in c["detections"]], r["image"]
        assert [d["class_name"] for d in r["detections"]] == [d["class_name"] for d in c["detections"]]
        if c["detections"]:
            np.testing.assert_allclose([d["box"] for d in r["detections"]], [d["box"] for d in c["detections"]],
                                       rtol=0, atol=1e-3, err_msg=r["image"])
            np.testing.assert_allclose([d["confidence"] for d in r["detections"]],
                                       [d["confidence"] for d in c["detections"]], rtol=1e-5, atol=0)


def assert_one_line_error(done, *fragments):
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("spdinfer.dask: error: "), done.stderr
    for f in fragments:
        assert str(f) in lines[0], lines[0]


def test_two_workers_write_the_commands_detections_and_resume_by_partition(scenes, cli_lines, tmp_path):
    out = tmp_path / "out"
    done, report = run_job(SCENE_MODEL, scenes, "--out", out, "--workers", 2, "--threads", 1,
                           "--partition-size", 10, *DETECT_OPTIONS)
    assert done.returncode == 0, done.stderr
    assert report["workers"] == 2 and report["images"] == SCENES and report["partitions"] == 10
    assert report["run"] == list(range(10)) and report["skipped"] == [] and report["image_errors"] == 0

    files = partition_files(out)
    assert [f.name for f in files] == [f"part-{i:05d}.jsonl" for i in range(10)]
    records = job_lines(out)
    assert len(records) == SCENES
    assert len({r["image"] for r in records}) == SCENES  # each image exactly once
    assert sum(len(c["detections"]) for c in cli_lines) >= SCENES, "too few boxes to compare"
    assert_same_detections(records, cli_lines)

    # A killed run: partition 4's file gone, half of it left in its temporary file.
    redo = out / "part-00004.jsonl"
    before = redo.read_text()
    (out / ".part-00004.jsonl.tmp").write_text("".join(before.splitlines(keepends=True)[:5]))
    redo.unlink()
    mtimes = {f.name: f.stat().st_mtime_ns for f in files if f != redo}
    deleted_at = time.time_ns()
    done, report = run_job(SCENE_MODEL, scenes, "--out", out, "--workers", 2, "--threads", 1,
                           "--partition-size", 10, *DETECT_OPTIONS)
    assert done.returncode == 0, done.stderr
    assert report["run"] == [4] and report["skipped"] == [i for i in range(10) if i != 4]
    assert {f.name: f.stat().st_mtime_ns for f in partition_files(out) if f != redo} == mtimes
    assert redo.stat().st_mtime_ns >= deleted_at - 10**9  # (file systems round times down)
    assert redo.read_text() == before
    assert not (out / ".part-00004.jsonl.tmp").exists()

    # Everything complete: nothing runs, no cluster starts.
    done, report = run_job(SCENE_MODEL, scenes, "--out", out, "--partition-size", 10, *DETECT_OPTIONS)
    assert done.returncode == 0, done.stderr
    assert report["run"] == [] and len(report["skipped"]) == 10 and report["workers"] == 0


def test_runs_unchanged_on_a_scheduler_address(scenes, cli_lines, tmp_path):
    """A scheduler and one worker process started as on a cluster's machines, on 127.0.0.1."""
    scheduler_file = tmp_path / "scheduler.json"
    started = []
    try:
        started.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", scheduler_file],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert scheduler_file.exists(), "the Dask scheduler did not start in 60 s"
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        started.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard", "--local-directory", tmp_path / "worker"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        images = sorted(scenes.glob("*.png"))[:20]
        manifest = tmp_path / "images.txt"
        manifest.write_text("# the first 20 scenes\n" + "".join(f"{p}\n" for p in images))
        out = tmp_path / "out"
        done, report = run_job(SCENE_MODEL, "--manifest", manifest, "--out", out, "--scheduler", address,
                               "--partition-size", 8, *DETECT_OPTIONS)
        assert done.returncode == 0, done.stderr
        assert report["workers"] == 1 and report["run"] == [0, 1, 2] and report["images"] == 20
        assert_same_detections(job_lines(out), [c for c in cli_lines if Path(c["image"]) in set(images)])
    finally:
        for process in reversed(started):
            process.terminate()
        for process in reversed(started):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_a_refused_image_is_an_error_line_and_exit_status_2(scenes, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("000000.png", "000001.png"):
        (images / name).write_bytes((scenes / name).read_bytes())
    (images / "000002.png").write_bytes((scenes / "000002.png").read_bytes()[:200])  # truncated
    out = tmp_path / "out"
    done, report = run_job(SCENE_MODEL, images, "--out", out, "--workers", 1, *DETECT_OPTIONS)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f'spdinfer.dask: error: 1 images could not be read; their lines in {out} carry "error"')
    assert report["image_errors"] == 1 and report["run"] == [0]
    records = job_lines(out)
    assert [r["image"] for r in records] == [str(images / f"00000{i}.png") for i in range(3)]
    assert "detections" in records[0] and "detections" in records[1]
    assert set(records[2]) == {"image", "error"} and "000002.png" in records[2]["error"]

    # The rerun skips the partition and still reports the refused image.
    done, report = run_job(SCENE_MODEL, images, "--out", out, *DETECT_OPTIONS)
    assert done.returncode == 2 and report["run"] == [] and report["image_errors"] == 1

    # Other options on the same directory: refused, the old partition kept.
    done, _ = run_job(SCENE_MODEL, images, "--out", out, "--img", SIZE, "--conf", 0.5)
    assert_one_line_error(done, out / "job.json", "options")
    assert len(job_lines(out)) == 3


def test_bad_arguments_end_in_one_line_before_any_worker_starts(scenes, tmp_path):
    out = tmp_path / "out"
    one = scenes / "000000.png"
    assert_one_line_error(run_job(tmp_path / "missing.safetensors", one, "--out", out)[0],
                          "missing.safetensors", "no such model file")
    assert_one_line_error(run_job(FASHION_MODEL, one, "--out", out)[0], "classifier, not a YOLOv5 detector")
    assert_one_line_error(run_job(SCENE_MODEL, tmp_path / "nothing*.png", "--out", out)[0],
                          "nothing*.png", "no files match")
    assert_one_line_error(run_job(SCENE_MODEL, "--out", out)[0], "--manifest")
    assert_one_line_error(run_job(SCENE_MODEL, one, "--out", out, "--classes", 10)[0],
                          "classes 10", "the model has 10 classes")
    assert_one_line_error(run_job(SCENE_MODEL, one, "--out", out, "--workers", 2,
                                  "--scheduler", "tcp://127.0.0.1:1")[0], "--scheduler", "--workers")
    assert_one_line_error(run_job(SCENE_MODEL, one, "--out", out, "--partition-size", 0)[0],
                          "partition size")
    assert not out.exists() or not partition_files(out)

    # A second job writing into the same directory.
    out.mkdir()
    with open(out / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert_one_line_error(run_job(SCENE_MODEL, one, "--out", out)[0], str(out), "another job")
