"""Figures: confusion matrix, training curves, example spectrograms on real axes (matplotlib, offline)."""

from __future__ import annotations

import io

import numpy as np

from .fileio import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())


def plot_confusion_matrix(cm, names, path, title: str = "Confusion matrix (test)") -> None:
    plt = _pyplot()
    cm = np.asarray(cm, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.55 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(names)):
        for j in range(len(names)):
            if cm[i, j]:
                ax.text(j, i, f"{norm[i, j]:.2f}\n({int(cm[i, j])})", ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, label="fraction of true class")
    ax.set_title(title)
    _save(fig, path)


def plot_cv_folds(summary: dict, path) -> None:
    """Test top-1 of every cross-validation fold, with the mean and ± one standard deviation."""
    plt = _pyplot()
    folds = [row["fold"] for row in summary["per_fold"]]
    top1 = [100 * row["top1"] for row in summary["per_fold"]]
    mean, std = 100 * summary["top1"]["mean"], 100 * summary["top1"]["std"]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(folds) + 2), 4))
    ax.bar([str(f) for f in folds], top1, color="tab:blue")
    ax.axhline(mean, color="black", label=f"mean {mean:.1f} %")
    ax.axhspan(mean - std, mean + std, color="grey", alpha=0.25, label=f"± {std:.1f} % (std)")
    for i, v in enumerate(top1):
        ax.text(i, v + 1, f"{v:.1f}", ha="center", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_xlabel("test fold")
    ax.set_ylabel("test top-1 (%)")
    ax.set_title(f"Cross-validation, {len(folds)} folds")
    ax.legend(loc="lower right")
    _save(fig, path)


def plot_training_curves(results_csv, path) -> None:
    """Loss and top-1/top-5 per epoch from Ultralytics' results.csv."""
    import pandas as pd

    plt = _pyplot()
    df = pd.read_csv(results_csv)
    df.columns = [c.strip() for c in df.columns]
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(15, 4))
    for col, label in (("train/loss", "train loss"), ("val/loss", "val loss")):
        if col in df:
            a1.plot(df["epoch"], df[col], marker=".", label=label)
    a1.set_xlabel("epoch")
    a1.set_ylabel("loss")
    a1.legend()
    for col, label in (("metrics/accuracy_top1", "val top-1"), ("metrics/accuracy_top5", "val top-5")):
        if col in df:
            a2.plot(df["epoch"], df[col], marker=".", label=label)
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy")
    a2.set_ylim(0, 1.02)
    a2.legend()
    if "time" in df:  # Ultralytics writes the cumulative seconds
        a3.bar(df["epoch"], np.diff(np.concatenate([[0.0], df["time"].to_numpy()])))
    a3.set_xlabel("epoch")
    a3.set_ylabel("seconds per epoch")
    fig.suptitle("Training")
    _save(fig, path)


def plot_example_spectrograms(examples, settings, path) -> None:
    """One spectrogram per class on axes in seconds and Hz with a dB colour bar (the tutorial's view).

    `examples` is a list of (label, samples, sample_rate); the values are those the training image shows.
    """
    from .spectrogram import band_frequencies, fit_duration, spectrogram_db

    plt = _pyplot()
    n = len(examples)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (label, samples, rate) in zip(axes.flat, examples):
        samples = fit_duration(samples, rate, settings.duration_s)
        db = spectrogram_db(samples, rate, settings)
        low = max(float(db.max()) - settings.top_db, 0.0)
        freqs = band_frequencies(settings, rate)
        if settings.freq_scale == "linear" and (settings.fmin > 0 or settings.fmax is not None):
            freqs = freqs[(freqs >= settings.fmin) & (freqs <= (settings.fmax or np.inf))]
        times = np.arange(db.shape[1]) * settings.hop_length / rate
        mesh = ax.pcolormesh(times, freqs, db, shading="nearest", cmap=settings.colormap, vmin=low, vmax=low + settings.top_db)
        if settings.freq_scale == "log":
            ax.set_yscale("log")
        elif settings.freq_scale == "mel":
            ax.set_yscale("symlog", linthresh=1000)  # mel is linear below 1 kHz, logarithmic above
        ax.set_title(label)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
        fig.colorbar(mesh, ax=ax, label="dB re 1e-5")
    fig.suptitle(f"{settings.freq_scale} spectrogram, n_fft {settings.n_fft}, hop {settings.hop_length}, top_db {settings.top_db:g}")
    fig.tight_layout()
    _save(fig, path)


def plot_examples_from_listing(listing_csv, path, settings: dict) -> None:
    """The plot_examples rule: the first training clip of each class (in clip-id order)."""
    import pandas as pd

    from .spectrogram import SpectrogramSettings, load_clip

    spec = SpectrogramSettings(**settings)
    listing = pd.read_csv(listing_csv, dtype={"clip_id": str, "label": str}).sort_values("clip_id")
    examples = []
    for label, rows in listing.groupby("label", sort=True):
        samples, rate = load_clip(rows["audio"].iloc[0], spec)
        examples.append((label, samples, rate))
    plot_example_spectrograms(examples, spec, path)


def plot_dataset_summary(summary_json, path) -> None:
    """Clips per class and split (stacked bars), with duration, rates and skipped files in the title."""
    import json

    plt = _pyplot()
    summary = json.loads(open(summary_json, encoding="utf-8").read())
    classes = summary["classes"]
    counts = summary["clips_per_class_and_split"]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(classes) + 2), 4))
    bottom = np.zeros(len(classes))
    for split, colour in (("train", "#4c72b0"), ("val", "#dd8452"), ("test", "#55a868")):
        values = np.array([counts[c][split] for c in classes])
        ax.bar(classes, values, bottom=bottom, label=f"{split} ({int(values.sum())})", color=colour)
        bottom += values
    ax.set_ylabel("clips")
    ax.legend()
    ax.tick_params(axis="x", rotation=45)
    rates = ", ".join(f"{int(r) / 1000:g} kHz × {n}" for r, n in summary.get("sample_rates", {}).items())
    title = (f"{summary['clips']} clips, {summary.get('total_duration_s', 0) / 60:.1f} min of audio; {rates}; "
             f"{len(summary.get('bad_audio', []))} skipped as bad audio")
    left_out = [entry["class"] for entry in summary.get("classes_left_out", [])]
    if left_out:  # a class that bad audio emptied is not in the bars: say so where the bars are
        title += f"\nclasses left out (no usable training clip): {', '.join(left_out)}"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def plot_misclassified(predictions_csv, path, split: str = "test", limit: int = 24) -> None:
    """The misclassified clips' training images, titled true -> predicted (probability)."""
    import pandas as pd
    from PIL import Image

    plt = _pyplot()
    df = pd.read_csv(predictions_csv)
    wrong = df[(df["split"] == split) & (df["true"] != df["predicted"])].sort_values("probability", ascending=False)
    shown = wrong.head(limit)
    cols = max(1, min(6, len(shown)))
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, rec in zip(axes.flat, shown.itertuples()):
        with Image.open(rec.image) as im:
            ax.imshow(np.asarray(im.convert("RGB")))
        ax.set_title(f"{rec.clip_id}\n{rec.true} → {rec.predicted} ({rec.probability:.2f})\n"
                     f"p({rec.true}) = {rec.true_probability:.2f}", fontsize=7)
    if shown.empty:
        axes.flat[0].text(0.5, 0.5, f"no misclassified {split} clips", ha="center", va="center")
    fig.suptitle(f"{len(wrong)} misclassified {split} clips" + (f" (the {limit} most confident shown)" if len(wrong) > limit else ""))
    fig.tight_layout()
    _save(fig, path)


def plot_prediction_timelines(predictions_csv, out_dir) -> list:
    """One plot per input file longer than one window: class probabilities against time."""
    import re
    from pathlib import Path

    import pandas as pd

    from .names import MAX_FLAT_BYTES, short_hash
    from .safety import mark_directory

    plt = _pyplot()
    out_dir = Path(out_dir)
    mark_directory(out_dir)
    df = pd.read_csv(predictions_csv)
    classes = [c for c in df.columns if c.startswith("p_")]
    written = []
    for file, rows in df.groupby("file", sort=True):
        if len(rows) < 2:
            continue
        centres = (rows["start_s"] + rows["end_s"]) / 2
        fig, ax = plt.subplots(figsize=(10, 3.5))
        for c in classes:
            ax.plot(centres, rows[c], marker=".", label=c[2:])
        ax.set_xlabel("time (s, window centre)")
        ax.set_ylabel("probability")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{file}: {rows['file_label'].iloc[0]} ({rows['file_prob'].iloc[0]:.2f})", fontsize=9)
        ax.legend(fontsize=7, ncol=min(5, len(classes)), loc="upper right")
        fig.tight_layout()
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", file).strip("_")
        if len(name) > MAX_FLAT_BYTES:
            name = name[-MAX_FLAT_BYTES:] + "~" + short_hash(file)
        name += ".png"
        _save(fig, out_dir / name)
        written.append(out_dir / name)
    return written
