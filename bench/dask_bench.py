#!/usr/bin/python3
"""bench/dask_bench.py: images per second of the batch detection job (spdinfer.dask) on a local
cluster, at 1 and 2 worker processes x 1 and 2 engine threads, beside one process without Dask.

What it does: generates --images test scenes (weights_tools/train/synth_scenes.py, --size px, in a
temporary folder), then runs, --rounds times and interleaved so that noise from other work on the
machine hits every setting alike:
  - `spdinfer.dask.detect_images` on a new local cluster per run, each (workers, threads) of
    --grid, into a fresh output folder; images/s is the job's own figure (images over the time
    from the first task sent to the last partition written: each worker's model load is in it,
    the cluster's start-up is not and is reported apart);
  - one process without Dask: `spdinfer.load(threads=T)` and `Model.detect` over the same paths
    in a loop (the load not timed), for T = 1, 2: what the job's distribution costs or gains.
Prints a Markdown block (CPU from /proc/cpuinfo, load average, commit, medians); --markdown FILE
writes it into FILE between `<!-- BEGIN bench/dask_bench -->` and `<!-- END bench/dask_bench -->`.

It is a benchmark, not a test: scripts/test does not run it. Run from the repository root with
the module built (scripts/build):

    PYTHONPATH=build/python bench/dask_bench.py
    PYTHONPATH=build/python bench/dask_bench.py --images 400 --rounds 3 --markdown docs/performance.md
"""

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "assets" / "scenes_spd_yolov5n.safetensors"
MARK_BEGIN, MARK_END = "<!-- BEGIN bench/dask_bench -->", "<!-- END bench/dask_bench -->"


def grid(text):
    """'1x1,2x1' -> [(1, 1), (2, 1)] (workers x threads)."""
    try:
        cells = [tuple(int(n) for n in cell.split("x")) for cell in text.split(",")]
    except ValueError:
        cells = []
    if not cells or any(len(c) != 2 or min(c) < 1 for c in cells):
        raise argparse.ArgumentTypeError(f"expected WORKERSxTHREADS,... like 1x1,2x1, got {text!r}")
    return cells


def cpu_name():
    """/proc/cpuinfo's model name, family and model, and the widest vector instructions it lists."""
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    flags = set(info.get("flags", "").split())
    vector = next((name for name in ("avx512f", "avx2", "sse4_2") if name in flags), "no AVX")
    return (f"{info.get('model name', 'unknown')} (family {info.get('cpu family', '?')}, model "
            f"{info.get('model', '?')}, {vector})")


def commit():
    done = subprocess.run(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def make_scenes(folder, count, size):
    subprocess.run([sys.executable, "-m", "weights_tools.train.synth_scenes", "--out", folder, "--train", "0",
                    "--val", "0", "--test", str(count), "--size", str(size)], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    return sorted((Path(folder) / "images" / "test").glob("*.png"))


def time_dask(images, workers, threads, args, scratch):
    """(images/s, cluster start-up s) of one job on a new local cluster."""
    import spdinfer.dask
    out = tempfile.mkdtemp(dir=scratch)
    report = spdinfer.dask.detect_images(MODEL, [str(p) for p in images], out, workers=workers, threads=threads,
                                         partition_size=args.partition_size, img_size=args.img,
                                         log=lambda message: None)
    assert len(report.run) == report.partitions and report.image_errors == 0, report
    return report.images_per_second, report.startup_seconds


def time_one_process(images, threads, args):
    """images/s of Model.detect over the paths in one process (the load not timed)."""
    import spdinfer
    model = spdinfer.load(MODEL, threads=threads)
    start = time.perf_counter()
    for path in images:
        model.detect(str(path), img_size=args.img)
    return len(images) / (time.perf_counter() - start)


def markdown(args, rows, loads, started):
    lines = [
        f"Run {started:%Y-%m-%d %H:%M} UTC by `bench/dask_bench.py {' '.join(sys.argv[1:])}`.",
        "",
        f"- CPU: {cpu_name()}, {os.cpu_count()} logical CPUs",
        f"- spdinfer commit {commit()}; Dask {__import__('distributed').__version__}; Python "
        f"{sys.version.split()[0]}",
        f"- {args.images} generated scenes of {args.size}x{args.size} px, detected at --img {args.img} with the "
        f"bundled SPD-YOLOv5n; partitions of {args.partition_size} images; {args.rounds} interleaved rounds",
        f"- load average (1 min) while running: min {min(loads):.1f}, max {max(loads):.1f} on "
        f"{os.cpu_count()} CPUs",
        "",
        "| setting | workers x threads | images/s (median) | images/s (each round) | cluster start-up s |",
        "| --- | --- | ---: | --- | ---: |",
    ]
    for name, cell, rates, startups in rows:
        each = ", ".join(f"{r:.1f}" for r in rates)
        startup = f"{statistics.median(startups):.1f}" if startups else "-"
        lines.append(f"| {name} | {cell} | {statistics.median(rates):.1f} | {each} | {startup} |")
    lines += ["", "images/s of the Dask job: images over the time from the first task sent to the last "
              "partition written (each worker's model load included, the cluster's start-up not)."]
    return "\n".join(lines)


def write_markdown(path, block):
    text = Path(path).read_text() if Path(path).exists() else ""
    block = f"{MARK_BEGIN}\n{block}\n{MARK_END}"
    if MARK_BEGIN in text and MARK_END in text:
        head, rest = text.split(MARK_BEGIN, 1)
        text = head + block + rest.split(MARK_END, 1)[1]
    else:
        text = text + ("\n" if text else "") + block + "\n"
    Path(path).write_text(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=200, help="generated scenes to detect")
    p.add_argument("--size", type=int, default=320, help="scene side in pixels")
    p.add_argument("--img", type=int, default=320, help="inference size")
    p.add_argument("--partition-size", type=int, default=20)
    p.add_argument("--grid", type=grid, default=grid("1x1,1x2,2x1,2x2"), help="WORKERSxTHREADS,...")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--markdown", metavar="FILE", help=f"write the block into FILE between {MARK_BEGIN} and {MARK_END}")
    args = p.parse_args()
    if args.images < 1 or args.rounds < 1 or args.partition_size < 1:
        p.error("--images, --rounds and --partition-size must be at least 1")

    started = datetime.datetime.utcnow()
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as scratch:
        images = make_scenes(Path(scratch) / "scenes", args.images, args.size)
        dask_rates = {cell: ([], []) for cell in args.grid}
        single_rates = {threads: [] for threads in (1, 2)}
        for round_index in range(args.rounds):
            for threads, rates in single_rates.items():
                rates.append(time_one_process(images, threads, args))
                loads.append(os.getloadavg()[0])
            for (workers, threads), (rates, startups) in dask_rates.items():
                rate, startup = time_dask(images, workers, threads, args, scratch)
                rates.append(rate)
                startups.append(startup)
                loads.append(os.getloadavg()[0])
                print(f"round {round_index + 1}: {workers} workers x {threads} threads: {rate:.1f} images/s "
                      f"(cluster start-up {startup:.1f} s)", file=sys.stderr)
    rows = [("one process, no Dask", f"1 x {t}", rates, []) for t, rates in single_rates.items()]
    rows += [("spdinfer.dask, local cluster", f"{w} x {t}", rates, startups)
             for (w, t), (rates, startups) in dask_rates.items()]
    block = markdown(args, rows, loads, started)
    print(block)
    if args.markdown:
        write_markdown(args.markdown, block)


if __name__ == "__main__":
    main()
