#!/usr/bin/env python3
"""Benchmark of the per-WAV stage: the tutorial's matplotlib loop, the render floor, the workflow.

Measures, in one run on one machine (see README "Performance"):
  (a) the tutorial's loop: a matplotlib figure (15 x 7.5 in) saved per clip, one process;
  (b) the floor: seesound's render function over every clip in one process (start-up included);
  (c) the workflow's `spectrograms` target, `snakemake --cores 2`, cold start (DAG build included);
  (d) the same with spectrogram.clips_per_job > 1;
  (e) the DAG build alone (`snakemake -n spectrograms`) for several collection sizes.
Prints the table with the ratios (c)/(b), (a)/(c), (d)/(b) and per-clip costs, and writes it to a CSV.

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
sys.path.insert(0, str(REPO / "scripts"))

from seesound.audio import read_wav, write_wav  # noqa: E402
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

    settings = SpectrogramSettings(freq_scale="linear")
    start = time.perf_counter()
    for i, wav in enumerate(wavs):
        samples, rate = read_wav(wav)
        db = spectrogram_db(samples, rate, settings)
        fig = plt.figure(figsize=(15, 7.5))
        plt.imshow(db, origin="lower", aspect="auto", cmap="jet")
        plt.axis("off")
        fig.savefig(out_dir / f"{i}.png", bbox_inches="tight", pad_inches=0)
        plt.close(fig)
    return time.perf_counter() - start


FLOOR_CODE = """
import sys, time
sys.path.insert(0, {scripts!r})
from pathlib import Path
from seesound.spectrogram import SpectrogramSettings, write_clip_image
settings = SpectrogramSettings()
root, out = Path({root!r}), Path({out!r})
for wav in sorted(root.rglob("*.wav")):
    write_clip_image(wav, out / wav.relative_to(root).with_suffix(".png"), settings)
"""


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


def timed(cmd, **kw) -> tuple[float, int]:
    """Wall seconds of a command and the peak RSS (MB) of the largest process it ran."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, **kw)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) // 1024


def snakemake(work: Path, *args) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), *args]


def workflow_run(data: Path, work: Path, cores: int, clips_per_job: int) -> tuple[float, int]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    config = ["--config", f"dataset={{kind: folder, path: {data}}}", f"spectrogram={{clips_per_job: {clips_per_job}}}"]
    return timed(snakemake(work, "--cores", str(cores), "spectrograms", *config))


def dag_build(data: Path, work: Path) -> float:
    work.mkdir(parents=True, exist_ok=True)
    wall, _ = timed(snakemake(work, "spectrograms", "--config", f"dataset={{kind: folder, path: {data}}}", "-n", "--quiet", "rules"))
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
    ap.add_argument("--parts", default="abcde", help="which measurements to run (default abcde)")
    ap.add_argument("--csv", type=Path, default=REPO / "bench" / "results.csv")
    args = ap.parse_args()

    rows = []

    def record(name, seconds, clips, note=""):
        rows.append({"measurement": name, "seconds": round(seconds, 2), "clips": clips,
                     "ms_per_clip": round(1000 * seconds / clips, 2) if clips else "", "note": note})
        print(f"{name:<58} {seconds:9.2f} s  {1000 * seconds / clips if clips else 0:8.2f} ms/clip  {note}", flush=True)

    with tempfile.TemporaryDirectory(prefix="seesound-bench-") as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        make_folder_dataset(data, args.n, args.rate, args.seconds, source=args.folder)
        wavs = sorted(data.rglob("*.wav"))
        a = b = c = d = None
        if "a" in args.parts:
            sample = wavs[: args.tutorial_sample]
            (tmp / "tutorial").mkdir()
            a = tutorial_loop(sample, tmp / "tutorial") * len(wavs) / len(sample)
            record("(a) tutorial matplotlib loop, 1 process", a, len(wavs), f"scaled from {len(sample)} clips")
        if "b" in args.parts:
            b, _ = timed([sys.executable, "-c", FLOOR_CODE.format(scripts=str(REPO / "scripts"), root=str(data), out=str(tmp / "floor"))])
            record("(b) render function, 1 process (floor)", b, len(wavs))
        if "c" in args.parts:
            c, c_mem = workflow_run(data, tmp / "work_c", args.cores, 1)
            record(f"(c) snakemake --cores {args.cores} spectrograms, 1 clip/job", c, len(wavs), f"peak RSS {c_mem} MB")
        if "d" in args.parts:
            d, d_mem = workflow_run(data, tmp / "work_d", args.cores, args.clips_per_job)
            record(f"(d) same, {args.clips_per_job} clips/job", d, len(wavs), f"peak RSS {d_mem} MB")
        if args.scaling_n and c:
            big = tmp / "data_big"
            make_folder_dataset(big, args.scaling_n, args.rate, args.seconds, source=args.folder)
            c2, c2_mem = workflow_run(big, tmp / "work_c2", args.cores, 1)
            record(f"(c) at {args.scaling_n} clips", c2, args.scaling_n, f"peak RSS {c2_mem} MB")
            print(f"per-clip cost of (c) at {args.scaling_n} vs {len(wavs)} clips: {(c2 / args.scaling_n) / (c / len(wavs)):.2f}x")
        if "e" in args.parts:
            for size in [int(x) for x in args.dag_sizes.split(",") if x]:
                stub = tmp / f"dag{size}"
                make_folder_dataset(stub, size, args.rate, 0.001)  # the DAG build reads no audio: tiny files do
                record(f"(e) DAG build alone (snakemake -n), {size} clips", dag_build(stub, tmp / f"work_dag{size}"), size)
                shutil.rmtree(stub)

    ratios = {"(c)/(b)": (c, b), "(a)/(c)": (a, c), "(d)/(b)": (d, b)}
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
