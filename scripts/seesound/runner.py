"""Glue between Snakemake `script:` entries and the modules: logging to the rule's log file."""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager


@contextmanager
def output_to_log(log_path):
    """Send this process's stdout and stderr (Python and C level) to `log_path`, line-buffered."""
    if not log_path:
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a", buffering=1, encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
        start = time.time()
        try:
            yield
        finally:
            print(f"[seesound] finished in {time.time() - start:.1f} s", flush=True)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def file_logger(log_path):
    """A print-like function appending lines to `log_path`: for `run:` jobs, which share Snakemake's process
    and so must not redirect its standard streams (output_to_log is for `script:` jobs)."""
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)

    def log(message: str) -> None:
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(f"{message}\n")

    return log


def log_path_of(snakemake) -> str | None:
    return snakemake.log[0] if len(snakemake.log) else None


def use_cpu_threads(threads: int) -> None:
    """Let torch use the job's `threads:` CPUs. Call before anything imports torch or ultralytics:
    `import ultralytics` otherwise sets OMP_NUM_THREADS=1 and torch then computes on one core."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
