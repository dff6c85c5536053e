"""What the Snakemake report's pages say: the headline numbers, the tables on the landing page, and the
settings as readable `key: value` lists.

`snakemake --report` renders report/workflow.rst (and each figure's caption) with Jinja; the workflow puts
`report_context(...)` into the config it renders them with (rules/common.smk), so the landing page shows
the results of the run on disk, not only links to them.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

MAX_ROWS = 25  # rows of a table shown on the page (the whole table is one click away)


def readable(settings: dict) -> str:
    """`{"n_fft": 1024, "fmax": None}` -> `n_fft: 1024, fmax: none` (nested sections as section.key)."""
    parts = []
    for key, value in settings.items():
        if isinstance(value, dict):
            parts += [f"{key}.{part}" for part in readable(value).split(", ") if part]
        else:
            text = "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
            parts.append(f"{key}: {text}")
    return ", ".join(parts)


def html_table(frame: pd.DataFrame, caption: str, max_rows: int = MAX_ROWS, floats: str = "{:.3f}") -> str:
    """A small HTML table (escaped) with its caption; longer tables are cut with a note."""
    shown = frame.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    rows = []
    for rec in shown.itertuples(index=False):
        cells = [floats.format(v) if isinstance(v, float) else str(v) for v in rec]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    more = f"<p><em>{len(frame) - max_rows} more rows in the table below.</em></p>" if len(frame) > max_rows else ""
    return (
        f'<table class="seesound-table"><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _read_csv(path: Path):
    try:
        return pd.read_csv(path, keep_default_na=False)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None


def headline(metrics: dict | None, cv: dict | None, run: dict | None) -> str:
    """The landing page's first lines: what the model scores, on what, after how much training."""
    lines = []
    if cv:
        t1, t5, f1 = cv["top1"], cv["top5"], cv["macro_f1"]
        lines.append(
            f"<p class='seesound-headline'><b>Cross-validation, {cv['folds']} folds: test top-1 "
            f"{100 * t1['mean']:.1f} ± {100 * t1['std']:.1f} %</b>, top-5 {100 * t5['mean']:.1f} %, macro-F1 "
            f"{f1['mean']:.3f}; {len(cv['classes'])} classes, {cv['pooled']['clips']} test clips.</p>"
        )
    if metrics:
        split = "test" if metrics["test"]["clips"] else "val"
        m = metrics[split]
        training = metrics.get("training") or {}
        stop = ""
        if training:
            members = training.get("members") or 1
            stop = f"an ensemble of {members} trainings, the first: " if members > 1 else ""
            stop += (
                f"{training['epochs_run']} of {training['epochs_configured']} epochs (stopped early by patience "
                f"{training['patience']}; best val epoch {training['best_epoch']})"
                if training["stopped_early"]
                else f"{training['epochs_run']} epochs (best val epoch {training['best_epoch']})"
            )
        device = training.get("device") or (metrics.get("settings", {}).get("train", {}) or {}).get("device", "")
        if training.get("precision"):
            device = f"{device} ({training['precision']})"
        wall = ""
        if run and run.get("durations_s"):
            seconds = sum(v for v in run["durations_s"].values() if isinstance(v, (int, float)))
            wall = f", {seconds / 60:.1f} min over all stages"
        lines.append(
            f"<p class='seesound-headline'><b>Holdout {split} top-1 {100 * m['top1']:.1f} %</b>, top-5 "
            f"{100 * m['top5']:.1f} %, macro-F1 {m['macro_f1']:.3f} on {m['clips']} {split} clips; "
            f"{len(metrics['classes'])} classes; {stop}; device {html.escape(str(device))}{wall}.</p>"
        )
    if not lines:
        lines.append("<p>No results yet: run the workflow, then the report.</p>")
    return "".join(lines)


def report_context(results_dir, config: dict) -> dict:
    """Everything report/*.rst show besides Snakemake's own lists: read from what is on disk now."""
    results = Path(results_dir)
    metrics = _read_json(results / "metrics.json")
    cv = _read_json(results / "cv_metrics.json")
    run = _read_json(results / "run.json")
    tables = []
    if metrics:
        split = "test" if metrics["test"]["clips"] else "val"
        per_class = pd.DataFrame(metrics[split]["per_class"]).T.rename_axis("class").reset_index()
        per_class["support"] = per_class["support"].astype(int)
        tables.append(html_table(per_class, f"Per class, {split} clips: precision, recall, F1, support", max_rows=60))
        confused = pd.DataFrame(metrics[split]["most_confused"], columns=["true", "predicted", "count"])
        if len(confused):
            tables.append(html_table(confused, f"Most confused pairs ({split})"))
    if cv:
        folds = pd.DataFrame(cv["per_fold"])[["fold", "test_clips", "top1", "top5", "macro_f1", "train_s"]]
        tables.append(html_table(folds, "Cross-validation: each fold's model on its own test fold"))
    summary = _read_csv(results / "tables" / "predictions_summary.csv")
    if summary is not None and len(summary):
        tables.append(html_table(summary.drop(columns=["file"]), "Predictions: what each recording holds"))
    return {
        "headline": headline(metrics, cv, run),
        "tables": "".join(tables),
        "spectrogram": readable(config["spectrogram"]),
        "augment": readable(config["train"]["augment"]),
        "predict": readable({k: v for k, v in config["predict"].items() if k != "inputs"}),
    }
