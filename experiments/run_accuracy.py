#!/usr/bin/env python3
"""Run the accuracy experiment (experiments/accuracy.yaml) and write README's accuracy table.

Each setting runs `snakemake cv` in its own working directory, results/accuracy/<setting>/ (its results,
logs and benchmarks stay apart from the other settings'), with its own config file; a finished
setting is not rerun (Snakemake sees nothing to do), so an interrupted experiment resumes. The table goes
to results/accuracy/table.md and table.csv and is printed.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def merged(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = (
            merged(out.get(key, {}), value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_setting(name: str, setting: dict, base: dict, out_root: Path, cores: int) -> dict:
    out_dir = out_root / name
    config = base
    if "configfile" in setting:
        config = merged(config, yaml.safe_load((REPO / setting["configfile"]).read_text()))
    config = merged(config, {k: v for k, v in setting.items() if k not in ("about", "configfile")})
    config["results_dir"] = "results"
    if config.get("dataset", {}).get("path"):  # relative to the repository, not to the setting's folder
        config["dataset"]["path"] = str((REPO / config["dataset"]["path"]).resolve())
    out_dir.mkdir(parents=True, exist_ok=True)
    config_file = out_dir / "config.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    start = time.time()
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(out_dir),
        f"--configfile={config_file}",
        "--cores",
        str(cores),
        "cv",
    ]
    print(f"[accuracy] {name}: {' '.join(cmd)}", flush=True)
    log_path = out_dir / "snakemake.log"
    with open(log_path, "a") as log:
        log_start = log.tell()
        failed = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    if failed:
        with open(log_path) as log:
            log.seek(log_start)
            locked = "LockException" in log.read()
        hint = (
            f"a killed run left Snakemake's lock: snakemake -s {REPO / 'Snakefile'} -d {out_dir} --unlock, "
            "then run this again"
            if locked
            else f"see {log_path}"
        )
        raise SystemExit(f"[accuracy] {name}: snakemake failed ({hint})")
    print(f"[accuracy] {name}: done in {time.time() - start:.0f} s", flush=True)
    return json.loads((out_dir / "results" / "cv_metrics.json").read_text())


def table_rows(results: dict, settings: dict) -> list[dict]:
    rows = []
    for name, cv in results.items():
        rows.append(
            {
                "setting": name,
                "about": settings[name]["about"],
                "top1_mean": round(100 * cv["top1"]["mean"], 1),
                "top1_std": round(100 * cv["top1"]["std"], 1),
                "top5_mean": round(100 * cv["top5"]["mean"], 1),
                "folds": cv["folds"],
                "train_min_per_fold": round(cv["train_s_per_fold"]["mean"] / 60, 1),
                "per_fold_top1": " ".join(f"{100 * r['top1']:.1f}" for r in cv["per_fold"]),
            }
        )
    return rows


def markdown(rows: list[dict], machine: str) -> str:
    lines = [
        f"Machine: {machine}",
        "",
        "| setting | what | top-1 (mean ± std, %) | top-5 (%) | per fold | training per fold |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| `{r['setting']}` | {r['about']} | **{r['top1_mean']} ± {r['top1_std']}** | {r['top5_mean']} "
            f"| {r['per_fold_top1']} | {r['train_min_per_fold']} min |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings-file", default=str(REPO / "experiments" / "accuracy.yaml"))
    parser.add_argument("--only", help="comma-separated setting names (default: all, in file order)")
    parser.add_argument("--data", help="ESC-50-format CSV of the dataset (default: the file's base)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=str(REPO / "results" / "accuracy"))
    args = parser.parse_args(argv)
    spec = yaml.safe_load(Path(args.settings_file).read_text())
    base, settings = spec["base"], spec["settings"]
    if args.data:
        base = merged(base, {"dataset": {"path": str(Path(args.data).resolve())}})
    names = args.only.split(",") if args.only else list(settings)
    unknown = [n for n in names if n not in settings]
    if unknown:
        parser.error(f"unknown setting(s) {unknown}; the file has {list(settings)}")
    out_root = Path(args.out).resolve()
    results = {name: run_setting(name, settings[name], base, out_root, args.cores) for name in names}
    import torch

    device = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    machine = f"{os.cpu_count()} × {cpu_name()}, {device}, torch {torch.__version__}"
    rows = table_rows(results, settings)
    text = markdown(rows, machine)
    (out_root / "table.md").write_text(text)
    (out_root / "table.csv").write_text(
        ",".join(rows[0])
        + "\n"
        + "\n".join(",".join(f'"{v}"' if isinstance(v, str) else str(v) for v in r.values()) for r in rows)
        + "\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
