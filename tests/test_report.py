"""The Snakemake HTML report: built after a tiny run, checked for its content, then opened in Chromium."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import run_snakemake

SECTIONS = ["1. Dataset", "2. Spectrograms", "3. Training", "4. Evaluation", "5. Prediction", "6. Run"]
FIGURES = [
    "clips per class and split",
    "one example per class",
    "training curves",
    "confusion matrix",
    "per-class scores",
    "most confused pairs",
    "misclassified clips",
    "predictions table",
    "timeline",
    "seconds per stage",
    "files skipped as bad audio",
    "detections",
    "what each recording holds",
]


@pytest.fixture(scope="module")
def report(demo_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("report") / "work"
    shutil.copytree(demo_run, work, symlinks=True)  # the demo run, with a recording to predict
    run_snakemake(work, "--report", "report.html")
    return work / "report.html"


def headline_numbers(work: Path) -> tuple[str, str]:
    """What the landing page must show: the test top-1 of metrics.json and a per-class table row."""
    import json

    metrics = json.loads((work / "results" / "metrics.json").read_text())
    top1 = f"Holdout test top-1 {100 * metrics['test']['top1']:.1f} %"
    name = metrics["classes"][0]
    scores = metrics["test"]["per_class"][name]
    row = f"<td>{name}</td><td>{scores['precision']:.3f}</td><td>{scores['recall']:.3f}</td>"
    return top1, row


def test_report_is_self_contained_and_holds_every_section_and_figure(report):
    html = report.read_text(encoding="utf-8")
    assert report.stat().st_size > 200_000  # the images are embedded
    for name in SECTIONS + FIGURES:
        assert name in html, name
    assert "<img" in html or "data:image/png;base64" in html
    assert "http://" not in html.split("<body", 1)[0].replace("http://www.w3.org", "")  # no remote assets in head


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(report: Path, profile: Path, *args) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1400,1600",
        "--virtual-time-budget=15000",
        *args,
        report.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's)")
def test_report_renders_in_a_real_browser(report, tmp_path):
    dom = chromium(report, tmp_path / "profile-dom", "--dump-dom").stdout
    assert "Snakemake Report" in dom or "seesound" in dom
    top1, row = headline_numbers(report.parent)
    assert top1 in dom and row in dom  # the headline and the per-class table are on the rendered page
    for name in ("Dataset", "Evaluation", "Training"):
        assert name in dom, name
    shot = tmp_path / "report.png"
    chromium(report, tmp_path / "profile-shot", f"--screenshot={shot}")
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape[0] >= 800 and pixels.std() > 10 and len(np.unique(pixels)) > 20, "the page looks blank"


def test_settings_read_as_key_value_lists_and_tables_are_escaped():
    from seesound.report import html_table, readable

    assert readable({"n_fft": 1024, "fmax": None, "export": False, "augment": {"mixup": 0.3}}) == (
        "n_fft: 1024, fmax: none, export: false, augment.mixup: 0.3"
    )
    table = html_table(pd.DataFrame({"class": ["<dog>", "cat"], "f1": [0.91234, 1.0]}), "Per class", max_rows=1)
    assert "&lt;dog&gt;" in table and "<td>0.912</td>" in table and "cat" not in table
    assert "1 more rows in the table below" in table


def test_the_headline_states_the_result_and_the_training():
    from seesound.report import headline

    metrics = {
        "classes": ["a", "b"],
        "test": {"clips": 40, "top1": 0.875, "top5": 1.0, "macro_f1": 0.8712},
        "val": {"clips": 10},
        "training": {
            "epochs_run": 69,
            "epochs_configured": 90,
            "stopped_early": True,
            "patience": 50,
            "best_epoch": 19,
            "device": "cpu",
        },
    }
    text = headline(metrics, None, {"durations_s": {"train": 120.0, "split": 0.5, "spectrograms": None}})
    assert "Holdout test top-1 87.5 %" in text and "69 of 90 epochs (stopped early by patience 50" in text
    assert "2 classes" in text and "device cpu" in text and "2.0 min over all stages" in text
    metrics["training"]["precision"] = "bf16"  # cards since 2026-12-03 say what the training ran in
    assert "device cpu (bf16)" in headline(metrics, None, None)
    metrics["training"]["members"] = 3  # train.ensemble
    assert "an ensemble of 3 trainings, the first: 69 of 90 epochs" in headline(metrics, None, None)
    assert headline(None, None, None) == "<p>No results yet: run the workflow, then the report.</p>"
