"""Wall-clock and CPU seconds for the training scripts' logs.

What it is: `Stopwatch`, started when made, read by `seconds` (wall, monotonic)
and `cpu_seconds` (this process's CPU time, all threads: what a run costs, whatever the load).
What it is not: a benchmark timer (bench/ measures the engine) or a profiler.
"""

import time


class Stopwatch:
    def __init__(self):
        self._wall, self._cpu = time.monotonic(), time.process_time()

    def seconds(self):
        return time.monotonic() - self._wall

    def cpu_seconds(self):
        return time.process_time() - self._cpu
