"""results/run.json: a machine-readable account of a run (settings, data, stage times, versions, commit)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

from .fileio import atomic_write_text

PACKAGES = (
    "snakemake",
    "ultralytics",
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "matplotlib",
    "pandas",
    "pillow",
    "pyyaml",
)


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(directory) -> dict | None:
    """The workflow's commit and whether its tracked files have uncommitted changes (None outside git)."""

    def git(*args):
        return subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip() != ""
        return {"commit": head.stdout.strip(), "dirty": dirty}
    except (OSError, subprocess.TimeoutExpired):
        return None


def benchmark_table(benchmark_files) -> pd.DataFrame:
    """One row per stage from Snakemake's benchmark files (logs/benchmarks/<rule>.tsv)."""
    rows = []
    for path in benchmark_files:
        last = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append(
            {
                "stage": Path(path).stem,
                "seconds": round(float(last["s"]), 3),
                "max_rss_mb": round(float(last["max_rss"]), 1)
                if str(last.get("max_rss", "-")) not in ("-", "nan")
                else None,
                "log": str(Path(path).parent.parent / f"{Path(path).stem}.log"),
            }
        )
    return pd.DataFrame(rows, columns=["stage", "seconds", "max_rss_mb", "log"])


def write_run_info(
    path, stage_times_csv, split_summary_json, metrics_json, benchmark_files, settings: dict, workflow_dir
) -> dict:
    summary = json.loads(Path(split_summary_json).read_text())
    metrics = json.loads(Path(metrics_json).read_text())
    stages = benchmark_table(benchmark_files)
    span = summary.get("spectrogram_images", {}).get("span_s")
    stages = pd.concat(
        [
            pd.DataFrame(
                [
                    {
                        "stage": "spectrograms (first to last image written)",
                        "seconds": span,
                        "max_rss_mb": None,
                        "log": "logs/spectrogram/ (failures only)",
                    }
                ]
            ),
            stages,
        ]
    )  # below results_dir
    atomic_write_text(stage_times_csv, stages.to_csv(index=False, lineterminator="\n"))
    durations = dict(zip(stages["stage"], stages["seconds"]))
    info = {
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": settings,
        "dataset": {
            k: summary[k]
            for k in ("clips", "classes", "clips_per_split", "total_duration_s", "sample_rates")
            if k in summary
        },
        "results": {
            s: {"top1": metrics[s]["top1"], "top5": metrics[s]["top5"], "clips": metrics[s]["clips"]}
            for s in ("val", "test")
        },
        "training": metrics.get("training"),  # epochs run, best epoch, whether patience stopped it
        "durations_s": durations,
        "versions": package_versions(),
        "git": git_commit(workflow_dir),
        "platform": {"machine": platform.machine(), "system": platform.system(), "executable": sys.executable},
    }
    atomic_write_text(path, json.dumps(info, indent=2) + "\n")
    return info
