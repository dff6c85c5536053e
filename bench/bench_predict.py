#!/usr/bin/env python3
"""Benchmark of prediction: long recordings, a folder of many short ones, torch against ONNX.

Measures, in one run on one machine, `snakemake --cores N predict` with a default-sized model (YOLOv8n-cls at
224 px, 5 classes, 5 s windows every 2.5 s, 16 kHz; untrained weights: speed does not depend on their values):
  (a) one recording of 10 min, 1 h and 4 h: wall time (Snakemake start-up, DAG and model load included),
      x real time, and the peak RSS of the Snakemake process, which runs the prediction jobs itself;
  (b) the 1 h recording with the ONNX export (onnxruntime) instead of PyTorch, with windows that do not
      overlap (hop = window: half the windows), and with each window classified once (`predict.time_rolls: 1`)
      instead of at the default 4 time rolls;
  (c) a folder of 1000 five-second files against the same audio as one file, one job per recording and
      `predict.recordings_per_job` recordings per job;
  (d) the start-up alone (`snakemake -n predict`), to tell Snakemake's fixed cost from the work.
Prints the table with the ratios and writes it to bench/predict_results.csv.

    python bench/bench_predict.py                 # everything (~10 min on 2 cores; 1 GB of temporary audio)
    python bench/bench_predict.py --parts ab --lengths 600,3600
"""

from __future__ import annotations

import argparse
import csv
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

from bench_spectrograms import ENV  # noqa: E402  (the scontrol shim)

from seesound.audio import write_wav  # noqa: E402
from seesound.model import ModelCard, write_untrained_model  # noqa: E402
from seesound.spectrogram import SpectrogramSettings  # noqa: E402

RATE = 16000


def write_long_recording(path: Path, seconds: int, rate: int = RATE) -> None:
    """Noise with tone bursts, written a minute at a time (the benchmark never holds it in memory)."""
    n = seconds * rate
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(
            struct.pack(
                "<4sI4s4sIHHIIHH4sI",
                b"RIFF",
                36 + 2 * n,
                b"WAVE",
                b"fmt ",
                16,
                1,
                1,
                rate,
                2 * rate,
                2,
                16,
                b"data",
                2 * n,
            )
        )
        t = np.arange(60 * rate) / rate
        for start in range(0, n, 60 * rate):
            m = min(60 * rate, n - start)
            x = 0.05 * rng.standard_normal(m) + 0.3 * np.sin(2 * np.pi * rng.uniform(300, 3000) * t[:m]) * (
                t[:m] % 10 < 2
            )
            f.write((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def model_files(folder: Path) -> tuple[Path, Path]:
    """A default-sized seesound model (.pt) and its ONNX export, trained (its card says) with the default
    time shift, so that prediction gives it the default time rolls."""
    from seesound.training import export_onnx

    card = ModelCard(
        ["click_train", "harmonic_call", "noise_burst", "siren", "tone"],
        SpectrogramSettings().as_dict(),
        5.0,
        224,
        2,
        "benchmark",
        {},
        0.5,
    )
    pt, onnx = folder / "model.pt", folder / "model.onnx"
    write_untrained_model(pt, card)
    export_onnx(pt, onnx, card, 224)
    return pt, onnx


def run(work: Path, model: Path, inputs: str, cores: int, *extra) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of `snakemake predict` in a fresh working directory."""
    import shutil

    if (work / "results").exists():
        shutil.rmtree(work / "results")
    work.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-c",
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)",
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(work),
        "--cores",
        str(cores),
        "predict",
        "--config",
        f"predict={{model: {model}, inputs: [{inputs}]{''.join(extra)}}}",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed:\n{proc.stderr[-3000:]}")
    return wall, int(proc.stdout.strip().splitlines()[-1]) // 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="600,3600,14400", help="seconds of the long recordings (a)")
    ap.add_argument("--files", type=int, default=1000, help="five-second files in the folder (c)")
    ap.add_argument("--per-job", type=int, default=100, help="predict.recordings_per_job for the batched run (c)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--parts", default="abcd")
    ap.add_argument("--csv", type=Path, default=REPO / "bench" / "predict_results.csv")
    args = ap.parse_args()
    rows = []

    def record(name, seconds, audio_s, rss="", note=""):
        rt = audio_s / seconds if seconds else 0
        rows.append(
            {
                "measurement": name,
                "seconds": round(seconds, 2),
                "audio_s": audio_s,
                "x_real_time": round(rt),
                "peak_rss_mb": rss,
                "note": note,
            }
        )
        print(f"{name:<62} {seconds:8.2f} s  {rt:7.0f} x real time  {rss!s:>6} MB  {note}", flush=True)

    with tempfile.TemporaryDirectory(prefix="seesound-bench-predict-") as tmp:
        tmp = Path(tmp)
        pt, onnx = model_files(tmp)
        lengths = [int(x) for x in args.lengths.split(",") if x]
        long_files = {}
        for seconds in lengths if "a" in args.parts or "b" in args.parts else []:
            long_files[seconds] = tmp / f"rec_{seconds}s.wav"
            write_long_recording(long_files[seconds], seconds)
        if "d" in args.parts:
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "snakemake",
                    "-s",
                    str(REPO / "Snakefile"),
                    "-d",
                    str(tmp / "dry"),
                    "-n",
                    "predict",
                    "--config",
                    f"predict={{model: {pt}, inputs: [{next(iter(long_files.values()), pt)}]}}",
                ],
                capture_output=True,
                env=ENV,
            )
            record("(d) start-up alone: snakemake -n predict", time.perf_counter() - start, 0)
        if "a" in args.parts:
            for seconds, path in long_files.items():
                wall, rss = run(tmp / f"work_{seconds}", pt, str(path), args.cores)
                record(f"(a) one {seconds / 60:g}-min recording, torch", wall, seconds, rss)
        if "b" in args.parts and 3600 in long_files:
            wall, rss = run(tmp / "work_onnx", onnx, str(long_files[3600]), args.cores)
            record("(b) one 60-min recording, ONNX (onnxruntime)", wall, 3600, rss)
            wall, rss = run(tmp / "work_hop", pt, str(long_files[3600]), args.cores, ", hop_s: 5.0")
            record("(b) one 60-min recording, torch, windows without overlap", wall, 3600, rss, "predict.hop_s: 5")
            wall, rss = run(tmp / "work_once", pt, str(long_files[3600]), args.cores, ", time_rolls: 1")
            record("(b) one 60-min recording, torch, each window once", wall, 3600, rss, "predict.time_rolls: 1")
        if "c" in args.parts:
            folder = tmp / "folder"
            rng = np.random.default_rng(1)
            pieces = []
            for i in range(args.files):
                x = 0.05 * rng.standard_normal(5 * RATE) + 0.3 * np.sin(
                    2 * np.pi * (300 + i) * np.arange(5 * RATE) / RATE
                )
                write_wav(folder / f"site{i % 10}" / f"clip{i:05d}.wav", x.astype(np.float32), RATE)
                pieces.append(x)
            write_wav(tmp / "joined.wav", np.concatenate(pieces).astype(np.float32), RATE)
            del pieces
            audio_s = 5 * args.files
            one, rss = run(tmp / "work_joined", pt, str(tmp / "joined.wav"), args.cores)
            record(f"(c) the same audio as one {audio_s / 60:.0f}-min file", one, audio_s, rss)
            many, rss = run(tmp / "work_folder", pt, str(folder), args.cores)
            record(
                f"(c) {args.files} five-second files, one job each",
                many,
                audio_s,
                rss,
                f"{many / one:.2f}x the one file",
            )
            batched, rss = run(
                tmp / "work_batched", pt, str(folder), args.cores, f", recordings_per_job: {args.per_job}"
            )
            record(
                f"(c) {args.files} five-second files, {args.per_job} per job",
                batched,
                audio_s,
                rss,
                f"{batched / one:.2f}x the one file",
            )
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["measurement", "seconds", "audio_s", "x_real_time", "peak_rss_mb", "note"])
        w.writeheader()
        w.writerows(rows)
    print(f"written to {args.csv}")


if __name__ == "__main__":
    main()
