#!/usr/bin/env python3
"""Stress test of stopping a run with SIGTERM (README "Interrupted runs": `kill <pid>`), with and without
seesound.scheduler_fix.graceful_exit_outside_the_signal_handler (which the workflow applies).

Each run starts Snakemake on many short `run:` jobs with the workflow profile's flags, sends SIGTERM to it
once some jobs are done, and waits for it to exit (Snakemake: after the running job ends). A run that has not
exited by --timeout is counted as hung (Snakemake's handler waiting on the lock its own thread holds), its
threads' stacks are kept in its stderr file, and it is killed.

    python bench/sigterm_stress.py --runs 12
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SNAKEFILE = """
import time
{fix}
rule all:
    input: [f"out/{{i}}.txt" for i in range({n})]
rule short:
    output: "out/{{i}}.txt"
    run:
        time.sleep(0.005)
        open(output[0], "w").close()
"""
# both variants have the other fix (one re-evaluation timer): the difference is the SIGTERM handler alone
IMPORT = "from seesound.scheduler_fix import graceful_exit_outside_the_signal_handler, one_pending_reevaluation"
FIX = {
    False: IMPORT + "\none_pending_reevaluation()",
    True: IMPORT + "\none_pending_reevaluation(); graceful_exit_outside_the_signal_handler()",
}


def one_run(work: Path, fixed: bool, jobs: int, stop_after: int, timeout: float) -> float | None:
    """Seconds from SIGTERM to exit, or None when the run hung (killed after `timeout`)."""
    work.mkdir(parents=True)
    (work / "Snakefile").write_text(SNAKEFILE.format(n=jobs, fix=FIX[fixed]))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(work / "Snakefile"), "-d", str(work), "--cores", "1"]
    cmd += ["--workflow-profile", str(REPO / "profiles" / "default")]
    env = dict(os.environ, PYTHONFAULTHANDLER="1")  # SIGABRT below prints every thread's stack
    with open(work / "stderr.txt", "w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        out = work / "out"
        while proc.poll() is None and (not out.exists() or len(os.listdir(out)) < stop_after):
            time.sleep(0.01)
        if proc.poll() is not None:
            raise SystemExit(f"Snakemake ended before the SIGTERM; see {work / 'stderr.txt'}")
        sent = time.perf_counter()
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
            return time.perf_counter() - sent
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGABRT)
            time.sleep(1)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=12, help="SIGTERMs per variant (default 12)")
    parser.add_argument("--jobs", type=int, default=400, help="short jobs per run (default 400)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds after which a run counts as hung")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    stops = [rng.randint(10, args.jobs // 2) for _ in range(args.runs)]  # the same moments for both variants
    root = Path(tempfile.mkdtemp(prefix="sigterm-stress-"))
    print(f"{args.runs} SIGTERMs per variant, {args.jobs} jobs a run, hung = not exited in {args.timeout:g} s")
    print(f"{'variant':<10} {'hung':>6} {'median exit s':>14}  stacks of hung runs")
    for fixed in (False, True):
        name = "fixed" if fixed else "unfixed"
        exits, hung = [], []
        for i, stop_after in enumerate(stops):
            work = root / f"{name}-{i}"
            seconds = one_run(work, fixed, args.jobs, stop_after, args.timeout)
            (hung.append(str(work / "stderr.txt")) if seconds is None else exits.append(seconds))
        median = f"{statistics.median(exits):.2f}" if exits else "-"
        print(f"{name:<10} {len(hung):>3}/{args.runs:<2} {median:>14}  {' '.join(hung[:3])}", flush=True)
    print(f"(work folders under {root}; delete when done)")


if __name__ == "__main__":
    main()
