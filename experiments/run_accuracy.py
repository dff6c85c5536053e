#!/usr/bin/env python3
"""Run an accuracy experiment (experiments/accuracy.yaml, experiments/esc50.yaml) and write README's table.

Each setting runs `snakemake cv` (or, with --folds, only those folds' job chains) in its own working
directory, results/accuracy/<setting>/ (its results, logs and benchmarks stay apart from the other
settings'), with its own config file; a finished fold is not rerun (Snakemake sees nothing to do), so an
interrupted experiment resumes. Every finished fold's metrics are recorded under
experiments/records/<experiment>/<setting>/fold<k>.json (committed: the table is rebuilt from them with
--table-only, also on a machine that never ran them); a record made with another config than the
setting's current one is ignored with a warning. The table goes to results/accuracy/table.md and table.csv
and is printed.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from seesound.crossval import summarize_folds, training_seconds

REPO = Path(__file__).resolve().parents[1]


def merged(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = (
            merged(out.get(key, {}), value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's name with its family and model numbers: virtual machines often name only the vendor ("AMD
    EPYC"), and two machines of that name trained one seed to other weights (README "Accuracy: ESC-50")."""
    try:
        fields = {}
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        if "model name" in fields:
            numbers = f"family {fields.get('cpu family', '?')} model {fields.get('model', '?')}"
            return f"{fields['model name']} ({numbers})"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def setting_config(setting: dict, base: dict) -> dict:
    """The config file a setting runs with: base, then its configfile, then its own keys."""
    config = base
    if "configfile" in setting:
        config = merged(config, yaml.safe_load((REPO / setting["configfile"]).read_text()))
    config = merged(config, {k: v for k, v in setting.items() if k not in ("about", "configfile", "pretrained")})
    config["results_dir"] = "results"
    if config.get("dataset", {}).get("path"):  # relative to the repository, not to the setting's folder
        config["dataset"]["path"] = str((REPO / config["dataset"]["path"]).resolve())
    return config


def comparable(config: dict, out_root: Path | None = None) -> dict:
    """A setting's config without what differs between machines (where the data and the outputs live)."""
    out = copy.deepcopy(config)
    for key in ("path", "audio_dir"):
        if out.get("dataset", {}).get(key):
            out["dataset"][key] = Path(out["dataset"][key]).name
    model = out.get("train", {}).get("model")
    if out_root is not None and model and Path(model).is_relative_to(out_root):
        out["train"]["model"] = Path(model).relative_to(out_root).as_posix()
    return out


def effective_config(config: dict) -> dict:
    """What a run really uses: the repository's config.yaml with the setting's config merged over it (a
    record keeps it, so that a record made before a default changed is not taken for the new default's)."""
    return merged(yaml.safe_load((REPO / "config.yaml").read_text()), config)


def pretrained_checkpoint(pretrained: dict, out_root: Path, fold: int) -> Path:
    """The model a fine-tuning setting starts from on test fold `fold`: the final weights of the
    `pretrained` setting's model for the same test fold (run with the same --out), so that no clip of the
    fold it is tested on was seen in pre-training either."""
    return out_root / pretrained["setting"] / "results" / "cv" / f"fold{fold}" / "model" / "weights" / "last.pt"


def fine_tuning_config(config: dict, pretrained: dict | None, out_root: Path, fold: int) -> dict:
    """The config test fold `fold` of a setting runs with: a fine-tuning setting's starts from its checkpoint."""
    if not pretrained:
        return config
    return merged(config, {"train": {"model": str(pretrained_checkpoint(pretrained, out_root, fold))}})


def run_setting(name: str, config: dict, out_dir: Path, cores: int, folds: list[int] | None) -> None:
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
        *([f"results/cv/fold{k}/metrics.json" for k in folds] if folds else ["cv"]),
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


def record_folds(
    config: dict, out_dir: Path, record_dir: Path, machine: str, out_root: Path, only_fold: int | None = None
) -> list[int]:
    """Copy each finished fold's metrics (with the config, the training's wall and CPU seconds and the
    machine) to record_dir/fold<k>.json (only fold `only_fold` when given); returns the folds recorded."""
    recorded = []
    for metrics_json in sorted((out_dir / "results" / "cv").glob("fold*/metrics.json")):
        fold = int(metrics_json.parent.name.removeprefix("fold"))
        if only_fold not in (None, fold):
            continue
        results_csv = metrics_json.parent / "model" / "results.csv"
        # the training's, and an ensemble's other members' (train_member<k>.tsv)
        benches = sorted((out_dir / "results" / "logs" / "benchmarks" / "cv" / f"fold{fold}").glob("train*.tsv"))
        if not results_csv.is_file():
            continue
        record = {
            "fold": fold,
            "config": comparable(config, out_root),
            "effective_config": comparable(effective_config(config), out_root),
            "train_s": round(training_seconds(results_csv), 1),
            "train_cpu_s": round(sum(float(pd.read_csv(b, sep="\t")["cpu_time"].iloc[-1]) for b in benches), 1)
            if benches
            else None,
            "machine": machine,
            "metrics": json.loads(metrics_json.read_text()),
        }
        record_dir.mkdir(parents=True, exist_ok=True)
        (record_dir / f"fold{fold}.json").write_text(json.dumps(record, indent=1) + "\n")
        recorded.append(fold)
    return recorded


# Keys config.yaml gained after records were made, with the value that reproduces what those records ran:
# before `train.precision` (2026-12-03) every training ran in float32, before `train.ensemble` one model
KEYS_ADDED_SINCE = {("train", "precision"): "fp32", ("train", "ensemble"): 1}
# Defaults config.yaml changed after the first records (those without an effective config, made before
# 2026-12-02) were made: their settings pin the old values (experiments/previous-default.yaml)
DEFAULTS_OF_THE_FIRST_RECORDS = {
    ("train", "weight_decay"): 0.0005,
    ("train", "patience"): 50,
    ("split", "cv_val_ratio"): 0.1,
    ("train", "epochs"): 90,
}


def as_of_today(record: dict) -> dict:
    """A record's configs read with today's keys: a record made before a key existed (its full config, or the
    lack of one, has no such key) ran with the value in KEYS_ADDED_SINCE, as if its setting had pinned it.
    Before `split.cv_val_ratio` (2026-12-04) cross-validation validated on `split.val_ratio`'s share: such a
    record reads as that cv_val_ratio, and its val_ratio (which a cross-validation does not use) as today's."""
    record = copy.deepcopy(record)
    effective = record.get("effective_config")
    for (section, key), value in KEYS_ADDED_SINCE.items():
        if effective is not None and key in effective.get(section, {}):
            continue  # made since the key existed: its configs say what it ran with
        for which in ("config", "effective_config"):
            if which in record:
                record[which].setdefault(section, {}).setdefault(key, value)
    if effective is None:
        for (section, key), value in DEFAULTS_OF_THE_FIRST_RECORDS.items():
            record["config"].setdefault(section, {}).setdefault(key, value)
    elif "split" in effective and "cv_val_ratio" not in effective["split"]:
        split = effective["split"]
        split["cv_val_ratio"] = split["val_ratio"]
        split["val_ratio"] = yaml.safe_load((REPO / "config.yaml").read_text())["split"]["val_ratio"]
        own = record["config"].get("split", {})
        if "val_ratio" in own:
            own["cv_val_ratio"] = own.pop("val_ratio")
    return record


def read_records(name: str, config_for_fold, record_dir: Path, out_root: Path) -> list[dict]:
    """The setting's recorded folds that were made with what it runs today (`config_for_fold(k)`), in fold
    order. A record that keeps its effective config (made since 2026-12-02) is compared on that, the whole
    config.yaml under the setting, so that it counts where a setting pins a value config.yaml has since
    changed, and never for a setting that would now run with other defaults; an older one on its setting's
    own config."""
    records = []
    for path in sorted(record_dir.glob("fold*.json"), key=lambda p: int(p.stem.removeprefix("fold"))):
        record = as_of_today(json.loads(path.read_text()))
        config = config_for_fold(record["fold"])
        own_config_differs = record["config"] != comparable(config, out_root)
        if "effective_config" in record:
            if record["effective_config"] != comparable(effective_config(config), out_root):
                why = "another config" if own_config_differs else "other defaults (config.yaml has changed since)"
                print(f"[accuracy] {name}: {path} was made with {why}; left out of the table", file=sys.stderr)
                continue
        elif own_config_differs:
            print(f"[accuracy] {name}: {path} was made with another config; left out of the table", file=sys.stderr)
            continue
        records.append(record)
    return records


def table_row(name: str, about: str, records: list[dict]) -> dict:
    summary = summarize_folds({r["fold"]: r["metrics"] for r in records}, {r["fold"]: r["train_s"] for r in records})
    cpu = [r["train_cpu_s"] for r in records if r["train_cpu_s"] is not None]
    return {
        "setting": name,
        "about": about,
        "folds": " ".join(str(r["fold"]) for r in records),
        "top1_mean": round(100 * summary["top1"]["mean"], 1),
        # one fold has no spread: left blank rather than a "± 0.0" that reads as a measured one
        "top1_std": round(100 * summary["top1"]["std"], 1) if len(records) > 1 else "",
        "top5_mean": round(100 * summary["top5"]["mean"], 1),
        "macro_f1_mean": round(summary["macro_f1"]["mean"], 3),
        "per_fold_top1": " ".join(f"{100 * r['top1']:.1f}" for r in summary["per_fold"]),
        "train_min_per_fold": round(summary["train_s_per_fold"]["mean"] / 60, 1),
        "train_cpu_min_per_fold": round(sum(cpu) / len(cpu) / 60, 1) if cpu else "",
    }


def markdown(rows: list[dict], machine: str) -> str:
    lines = [
        f"Machine: {machine}",
        "",
        "| setting | what | test folds | top-1 (mean ± std, %) | top-5 (%) | macro-F1 | top-1 per fold "
        "| training per fold (wall, CPU) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cpu = f", {r['train_cpu_min_per_fold']} CPU-min" if r["train_cpu_min_per_fold"] != "" else ""
        spread = f" ± {r['top1_std']}" if r["top1_std"] != "" else ""
        lines.append(
            f"| `{r['setting']}` | {r['about']} | {r['folds']} | **{r['top1_mean']}{spread}** "
            f"| {r['top5_mean']} | {r['macro_f1_mean']} | {r['per_fold_top1']} | {r['train_min_per_fold']} min{cpu} |"
        )
    return "\n".join(lines) + "\n"


def machine_description() -> str:
    import torch

    device = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    return f"{os.cpu_count()} × {cpu_name()}, {device}, torch {torch.__version__}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings-file", default=str(REPO / "experiments" / "accuracy.yaml"))
    parser.add_argument("--only", help="comma-separated setting names (default: all, in file order)")
    parser.add_argument("--data", help="ESC-50-format CSV of the dataset (default: the file's base)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--folds", help="comma-separated test folds to run (default: every fold, `snakemake cv`)")
    parser.add_argument("--out", default=str(REPO / "results" / "accuracy"))
    parser.add_argument("--records", help="where fold records go (default: experiments/records/<settings file name>)")
    parser.add_argument("--table-only", action="store_true", help="rebuild the table from the records, run nothing")
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
    records_root = Path(args.records or REPO / "experiments" / "records" / Path(args.settings_file).stem).resolve()
    folds = [int(k) for k in args.folds.split(",")] if args.folds else None
    machine = machine_description()
    rows, machines = [], set()
    for name in names:
        config = setting_config(settings[name], base)
        pretrained = settings[name].get("pretrained")
        config_for_fold = functools.partial(fine_tuning_config, config, pretrained, out_root)

        if not args.table_only and pretrained:
            if not folds:
                parser.error(f"{name} fine-tunes one model per test fold: give --folds")
            for fold in folds:  # one working folder per fold: each starts from another checkpoint
                checkpoint = pretrained_checkpoint(pretrained, out_root, fold)
                if not checkpoint.is_file():
                    raise SystemExit(
                        f"[accuracy] {name}: {checkpoint} does not exist: run setting {pretrained['setting']!r} "
                        f"of {pretrained['settings_file']} for fold {fold} first, with the same --out"
                    )
                fold_dir = out_root / name / f"fold{fold}"
                run_setting(name, config_for_fold(fold), fold_dir, args.cores, [fold])
                record_folds(config_for_fold(fold), fold_dir, records_root / name, machine, out_root, fold)
        elif not args.table_only:
            run_setting(name, config, out_root / name, args.cores, folds)
            record_folds(config, out_root / name, records_root / name, machine, out_root)
        records = read_records(name, config_for_fold, records_root / name, out_root)
        if records:
            rows.append(table_row(name, settings[name]["about"], records))
            machines.update(r["machine"] for r in records)
        else:
            print(f"[accuracy] {name}: no fold recorded yet", file=sys.stderr)
    if not rows:
        raise SystemExit(f"[accuracy] no recorded folds under {records_root}")
    text = markdown(rows, "; ".join(sorted(machines)))
    out_root.mkdir(parents=True, exist_ok=True)
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
