"""Cross-validation summary: per-fold scores, mean ± std, the pooled confusion matrix, and a plot."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .fileio import atomic_write_text
from .metrics import most_confused_pairs, per_class_scores


def epoch_table(results_csv, first_member: bool = False) -> pd.DataFrame:
    """Ultralytics' per-epoch table (results.csv), its column names stripped. An ensemble's (combine_members)
    holds every member's epochs, numbered in a `member` column; `first_member` keeps the first one's, the
    training whose curves the report draws."""
    table = pd.read_csv(results_csv, skipinitialspace=True)
    table.columns = [c.strip() for c in table.columns]
    if first_member and "member" in table:
        table = table[table["member"] == table["member"].iloc[0]].reset_index(drop=True)
    return table


def training_seconds(results_csv) -> float:
    """Seconds the training loops ran (every member's, for an ensemble), from Ultralytics' results.csv (its
    `time` column counts from the start of each run, so a resumed training's runs are added up)."""
    table = epoch_table(results_csv)
    total = 0.0
    for _, member in table.groupby("member") if "member" in table else [(None, table)]:
        elapsed = member["time"].to_numpy(dtype=float)
        run_ends = np.flatnonzero(np.diff(elapsed) < 0)  # the last epoch of each run that was later resumed
        total += float(elapsed[run_ends].sum() + (elapsed[-1] if len(elapsed) else 0.0))
    return total


def summarize_folds(fold_metrics: dict[int, dict], fold_train_s: dict[int, float]) -> dict:
    """Mean and (sample) standard deviation over folds of the test scores; confusion matrices summed."""
    folds = sorted(fold_metrics)
    names = fold_metrics[folds[0]]["classes"]
    for f in folds:
        if fold_metrics[f]["classes"] != names:
            raise ValueError(f"fold {f} has classes {fold_metrics[f]['classes']}, fold {folds[0]} has {names}")
    per_fold = [
        {
            "fold": f,
            "test_clips": fold_metrics[f]["test"]["clips"],
            "top1": fold_metrics[f]["test"]["top1"],
            "top5": fold_metrics[f]["test"]["top5"],
            "macro_f1": fold_metrics[f]["test"]["macro_f1"],
            "val_top1": fold_metrics[f]["val"]["top1"],
            "train_s": round(fold_train_s[f], 1),
        }
        for f in folds
    ]
    pooled = np.sum([np.asarray(fold_metrics[f]["test"]["confusion_matrix"]) for f in folds], axis=0)

    def mean_std(key):
        values = np.array([row[key] for row in per_fold], dtype=float)
        return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}

    return {
        "folds": len(folds),
        "classes": names,
        "top1": mean_std("top1"),
        "top5": mean_std("top5"),
        "macro_f1": mean_std("macro_f1"),
        "train_s_per_fold": mean_std("train_s"),
        "per_fold": per_fold,
        "pooled": {
            "clips": int(pooled.sum()),
            "top1": float(np.trace(pooled) / max(pooled.sum(), 1)),
            "confusion_matrix": pooled.astype(int).tolist(),
            "per_class": per_class_scores(pooled, names),
            "most_confused": most_confused_pairs(pooled.tolist(), names),
        },
        "settings": fold_metrics[folds[0]]["settings"],
    }


def write_cv_summary(folds, metrics_jsons, results_csvs, cv_json, confusion_png, folds_png) -> dict:
    """The cv_summary rule: results/cv_metrics.json and its two plots (inputs listed in `folds` order)."""
    from .plots import plot_confusion_matrix, plot_cv_folds

    metrics, seconds = {}, {}
    for fold, path, results_csv in zip(folds, metrics_jsons, results_csvs, strict=True):
        with open(path, encoding="utf-8") as f:
            metrics[fold] = json.load(f)
        seconds[fold] = training_seconds(results_csv)
    summary = summarize_folds(metrics, seconds)
    atomic_write_text(cv_json, json.dumps(summary, indent=2) + "\n")
    plot_confusion_matrix(
        summary["pooled"]["confusion_matrix"],
        summary["classes"],
        confusion_png,
        f"Confusion matrix, {summary['folds']} test folds pooled",
    )
    plot_cv_folds(summary, folds_png)
    t = summary["top1"]
    print(
        f"[seesound] cross-validation, {summary['folds']} folds: test top-1 {100 * t['mean']:.1f} ± "
        f"{100 * t['std']:.1f} %",
        flush=True,
    )
    return summary
