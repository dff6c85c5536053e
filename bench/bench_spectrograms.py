#!/usr/bin/env python3
"""Benchmark of the per-WAV stage: the tutorial's matplotlib loop, the render floor, the workflow.

Measures, in one run on one machine (see README "Performance"):
  (a) the tutorial's loop: a matplotlib figure (15 x 7.5 in) saved per clip, one process;
  (b) the floor: seesound's render function over every clip in one process (start-up included);
  (c) the workflow's `spectrograms` target, `snakemake --cores 2`, cold start (DAG build included);
  (d) the same with spectrogram.clips_per_job > 1;
  (e) the DAG build alone (`snakemake -n spectrograms`) for several collection sizes;
  (f) Snakemake's own floor: as many empty `run:` jobs as clips, with the workflow profile's flags, with
      and without seesound.scheduler_fix (which the workflow applies), each with the most threads Snakemake's
      process had at once (sampled by the jobs);
  (g) (c) with Snakemake's own logger instead of seesound's: what the one-line-per-job console costs
      (g, c, g after the first (c); the ratio is the middle (c) over the mean of the two (g); each counts the
      lines it printed);
  (p) the render's stages (audio read, resample, STFT, filterbank and dB, resize, levels, PNG encode) in ms.
Prints the table with the ratios (c)/(b), (a)/(c), (d)/(b), (c)/(f), (c)/(g), (f unfixed)/(f) and per-clip costs, and writes it to a CSV.

    python bench/bench_spectrograms.py                      # 2000 synthetic 5 s clips at 16 kHz
    python bench/bench_spectrograms.py --rate 44100
    python bench/bench_spectrograms.py --folder ../shared/data/esc10/audio
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

from seesound.audio import read_audio, write_wav  # noqa: E402
from seesound.spectrogram import SpectrogramSettings, spectrogram_db  # noqa: E402


def make_folder_dataset(root: Path, n: int, rate: float, seconds: float, classes: int = 10, source: Path | None = None):
    """n WAVs in `classes` class folders: synthetic noise+tones, or copies (links) of a real folder's files."""
    real = sorted(p for p in source.rglob("*") if p.suffix.lower() == ".wav") if source else []
    rng = np.random.default_rng(0)
    for i in range(n):
        path = root / f"class{i % classes}" / f"clip{i:06d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        if real:
            os.symlink(real[i % len(real)].resolve(), path)
        elif seconds <= 0.01:
            write_wav(path, np.zeros(8, np.float32), int(rate))
        else:
            t = np.arange(int(seconds * rate)) / rate
            x = 0.3 * np.sin(2 * np.pi * (200 + 50 * (i % 30)) * t) + 0.05 * rng.standard_normal(len(t))
            write_wav(path, x.astype(np.float32), int(rate))


def tutorial_loop(wavs, out_dir: Path) -> float:
    """(a) The tutorial's way: STFT, dB, a matplotlib figure saved per clip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = time.perf_counter()
    for i, wav in enumerate(wavs):
        samples, rate = read_audio(wav)
        db = spectrogram_db(samples, SpectrogramSettings(freq_scale="linear", sample_rate=rate))
        fig = plt.figure(figsize=(15, 7.5))
        plt.imshow(db, origin="lower", aspect="auto", cmap="jet")
        plt.axis("off")
        fig.savefig(out_dir / f"{i}.png", bbox_inches="tight", pad_inches=0)
        plt.close(fig)
    return time.perf_counter() - start


FLOOR_CODE = """
from pathlib import Path
from seesound.fileio import atomic_write_bytes
from seesound.render import render_clip_image
from seesound.spectrogram import SpectrogramSettings
settings = SpectrogramSettings()
root, out = Path({root!r}), Path({out!r})
for wav in sorted(root.rglob("*.wav")):
    atomic_write_bytes(out / wav.relative_to(root).with_suffix(".png"), render_clip_image(wav, settings))
"""

EMPTY_JOBS_SNAKEFILE = """
import threading
{fix}
N = {n}
PEAK_THREADS = [0]
onsuccess:
    open("peak_threads.txt", "w").write(str(PEAK_THREADS[0]))
rule all:
    input: [f"out/{{i}}.txt" for i in range(N)]
rule empty:
    output: "out/{{i}}.txt"
    run:
        PEAK_THREADS[0] = max(PEAK_THREADS[0], threading.active_count())
        open(output[0], "w").close()
"""
SCHEDULER_FIX = "from seesound.scheduler_fix import one_pending_reevaluation; one_pending_reevaluation()"


def render_stages(wavs, settings: SpectrogramSettings) -> dict:
    """(p) Milliseconds per clip of each stage of the render, in this process (the job's own work)."""
    import io

    from seesound.audio import resample
    from seesound.render import encode_levels
    from seesound.spectrogram import normalize_db, resize_square, spectrogram_db, to_levels

    totals = dict.fromkeys(
        ["read", "resample", "stft+filterbank+dB", "normalize", "resize", "levels", "png encode"], 0.0
    )
    for wav in wavs:
        t0 = time.perf_counter()
        x, rate = read_audio(wav)
        t1 = time.perf_counter()
        x = resample(x, rate, settings.sample_rate)
        t2 = time.perf_counter()
        db = spectrogram_db(x, settings)
        t3 = time.perf_counter()
        unit = normalize_db(db, settings.top_db)
        t4 = time.perf_counter()
        square = resize_square(unit, settings.image_size)
        t5 = time.perf_counter()
        levels = to_levels(square)
        t6 = time.perf_counter()
        io.BytesIO(encode_levels(levels, settings))
        t7 = time.perf_counter()
        for k, dt in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)):
            totals[k] += dt
    return {k: 1000 * v / len(wavs) for k, v in totals.items()}


def empty_jobs(work: Path, n: int, cores: int, fixed: bool) -> tuple[float, int]:
    """(f) n empty `run:` jobs with the flags of the workflow's profile: Snakemake's own cost per job, and the
    most threads its process had at once."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / "Snakefile").write_text(EMPTY_JOBS_SNAKEFILE.format(n=n, fix=SCHEDULER_FIX if fixed else ""))
    wall, _ = timed(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(work / "Snakefile"),
            "-d",
            str(work),
            "--cores",
            str(cores),
            "--workflow-profile",
            str(REPO / "profiles" / "default"),
        ]
    )
    return wall, int((work / "peak_threads.txt").read_text())


def environment() -> dict:
    """With SLURM's client installed but no controller, the SLURM executor plugin's `scontrol show config`
    at every Snakemake start waits ~9 s; a machine without SLURM (or with a live cluster) does not. Measure
    the workflow, not that: put an `scontrol` that fails at once first on PATH."""
    if not shutil.which("scontrol"):
        return dict(os.environ)
    shim = Path(tempfile.mkdtemp(prefix="seesound-no-slurm-"))
    (shim / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (shim / "scontrol").chmod(0o755)
    return {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}


ENV = environment()


LAST_CONSOLE_LINES = [0]  # lines the last timed command printed (what a user's terminal would show)


def timed(cmd, **kw) -> tuple[float, int]:
    """Wall seconds of a command and the peak RSS (MB) of the largest process it ran."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV, **kw)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    LAST_CONSOLE_LINES[0] = len((proc.stdout + proc.stderr).splitlines())
    return wall, max(peak, before) // 1024


def snakemake(work: Path, *args) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), *args]


def workflow_run(data: Path, work: Path, cores: int, clips_per_job: int, *extra: str) -> tuple[float, int]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    config = ["--config", f"dataset={{kind: folder, path: {data}}}", f"spectrogram={{clips_per_job: {clips_per_job}}}"]
    return timed(snakemake(work, "--cores", str(cores), "spectrograms", *extra, *config))


def dag_build(data: Path, work: Path) -> float:
    work.mkdir(parents=True, exist_ok=True)
    wall, _ = timed(
        snakemake(work, "spectrograms", "--config", f"dataset={{kind: folder, path: {data}}}", "-n", "--quiet", "rules")
    )
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="clips (default 2000)")
    ap.add_argument("--rate", type=int, default=16000, help="sample rate of the synthetic clips")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--folder", type=Path, help="use (links to) the WAVs of a real folder instead")
    ap.add_argument("--tutorial-sample", type=int, default=200, help="clips timed for (a); the total is scaled to N")
    ap.add_argument("--clips-per-job", type=int, default=100)
    ap.add_argument("--scaling-n", type=int, default=0, help="also run (c) at this many clips (e.g. 20000)")
    ap.add_argument("--dag-sizes", default="2000,20000,100000")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--parts", default="abcdefgp", help="which measurements to run (default abcdefgp)")
    ap.add_argument("--csv", type=Path, default=REPO / "bench" / "results.csv")
    args = ap.parse_args()

    rows = []

    def record(name, seconds, clips, note=""):
        rows.append(
            {
                "measurement": name,
                "seconds": round(seconds, 2),
                "clips": clips,
                "ms_per_clip": round(1000 * seconds / clips, 2) if clips else "",
                "note": note,
            }
        )
        print(f"{name:<58} {seconds:9.2f} s  {1000 * seconds / clips if clips else 0:8.2f} ms/clip  {note}", flush=True)

    with tempfile.TemporaryDirectory(prefix="seesound-bench-") as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        make_folder_dataset(data, args.n, args.rate, args.seconds, source=args.folder)
        wavs = sorted(data.rglob("*.wav"))
        os.sync()  # the fresh files' write-back would otherwise slow whichever measurement comes first
        a = b = c = d = f = f_unfixed = g = c_alternated = None
        if "a" in args.parts:
            sample = wavs[: args.tutorial_sample]
            (tmp / "tutorial").mkdir()
            a = tutorial_loop(sample, tmp / "tutorial") * len(wavs) / len(sample)
            record("(a) tutorial matplotlib loop, 1 process", a, len(wavs), f"scaled from {len(sample)} clips")
        if "b" in args.parts:
            b, _ = timed(
                [
                    sys.executable,
                    "-c",
                    FLOOR_CODE.format(root=str(data), out=str(tmp / "floor")),
                ]
            )
            record("(b) render function, 1 process (floor)", b, len(wavs))
        if "c" in args.parts:
            c, c_mem = workflow_run(data, tmp / "work_c", args.cores, 1)
            record(
                f"(c) snakemake --cores {args.cores} spectrograms, 1 clip/job",
                c,
                len(wavs),
                f"peak RSS {c_mem} MB; {LAST_CONSOLE_LINES[0]} console lines",
            )
        if "g" in args.parts and c:
            # the same with Snakemake's own console: no workflow profile, its other settings given by hand;
            # alternated with a second (c) because the machine's speed drifts by more than the difference
            profile_without_logger = [
                "--workflow-profile",
                "none",
                "--scheduler",
                "greedy",
                "--scheduler-subsample",
                "50",
                "--force-use-threads",
            ]
            g1, g_mem = workflow_run(data, tmp / "work_g", args.cores, 1, *profile_without_logger)
            g_lines = LAST_CONSOLE_LINES[0]
            c2, _ = workflow_run(data, tmp / "work_c", args.cores, 1)
            g2, _ = workflow_run(data, tmp / "work_g", args.cores, 1, *profile_without_logger)
            record(
                "(g) the same with Snakemake's own logger (mean of 2)",
                (g1 + g2) / 2,
                len(wavs),
                f"peak RSS {g_mem} MB; {g_lines} console lines; runs {g1:.1f} {g2:.1f} s",
            )
            record("(c) again, between the two (g) runs", c2, len(wavs))
            g, c_alternated = (g1 + g2) / 2, c2  # (c) bracketed by the two (g) runs
        if "d" in args.parts:
            d, d_mem = workflow_run(data, tmp / "work_d", args.cores, args.clips_per_job)
            record(f"(d) same, {args.clips_per_job} clips/job", d, len(wavs), f"peak RSS {d_mem} MB")
        if args.scaling_n and c:
            big = tmp / "data_big"
            make_folder_dataset(big, args.scaling_n, args.rate, args.seconds, source=args.folder)
            c2, c2_mem = workflow_run(big, tmp / "work_c2", args.cores, 1)
            record(f"(c) at {args.scaling_n} clips", c2, args.scaling_n, f"peak RSS {c2_mem} MB")
            print(
                f"per-clip cost of (c) at {args.scaling_n} vs {len(wavs)} clips: {(c2 / args.scaling_n) / (c / len(wavs)):.2f}x"
            )
        if "f" in args.parts:
            f_unfixed, threads_unfixed = empty_jobs(tmp / "work_f", len(wavs), args.cores, fixed=False)
            f, threads = empty_jobs(tmp / "work_f", len(wavs), args.cores, fixed=True)
            n = len(wavs)
            record(f"(f) {n} empty run: jobs, --cores {args.cores} (Snakemake's floor)", f, n, f"{threads} threads")
            record("(f) the same without scheduler_fix", f_unfixed, n, f"{threads_unfixed} threads")
        if "p" in args.parts:
            render_stages(wavs[:300], SpectrogramSettings())  # a first pass warms the page cache and the allocator
            stages = render_stages(wavs[:300], SpectrogramSettings())
            print(
                "(p) render stages, ms per clip (second pass over 300 clips): "
                + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
                + f"; total {sum(stages.values()):.2f}",
                flush=True,
            )
            for k, v in stages.items():
                rows.append({"measurement": f"(p) {k}", "seconds": "", "clips": 300, "ms_per_clip": round(v, 3)})
        if "e" in args.parts:
            for size in [int(x) for x in args.dag_sizes.split(",") if x]:
                stub = tmp / f"dag{size}"
                make_folder_dataset(stub, size, args.rate, 0.001)  # Snakemake's per-job cost; reading: bench_digests.py
                record(
                    f"(e) DAG build alone (snakemake -n), {size} clips", dag_build(stub, tmp / f"work_dag{size}"), size
                )
                shutil.rmtree(stub)

    ratios = {
        "(c)/(b)": (c, b),
        "(a)/(c)": (a, c),
        "(d)/(b)": (d, b),
        "(c)/(f)": (c, f),
        "(c)/(g)": (c_alternated, g),
        "(f unfixed)/(f)": (f_unfixed, f),
    }
    ratios = {k: x / y for k, (x, y) in ratios.items() if x and y}
    print("\n" + "   ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
    rows += [{"measurement": f"ratio {k}", "seconds": round(v, 3)} for k, v in ratios.items()]
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["measurement", "seconds", "clips", "ms_per_clip", "note"])
        w.writeheader()
        w.writerows(rows)
    print(f"written to {args.csv}")


if __name__ == "__main__":
    main()
