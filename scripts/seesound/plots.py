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
                ax.text(
                    j,
                    i,
                    f"{norm[i, j]:.2f}\n({int(cm[i, j])})",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
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


def plot_training_curves(results_csv, path, summary: dict | None = None) -> None:
    """Loss, val top-1/top-5 and seconds per epoch from Ultralytics' results.csv; the best val epoch marked
    (Ultralytics does not measure train accuracy for classification)."""
    from .crossval import epoch_table

    plt = _pyplot()
    df = epoch_table(results_csv, first_member=True)
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    for col, label in (("train/loss", "train loss"), ("val/loss", "val loss")):
        if col in df:
            a1.plot(df["epoch"], df[col], marker=".", label=label)
    a1.set(title="Loss", xlabel="epoch", ylabel="cross-entropy")
    a1.legend()
    for col, label in (("metrics/accuracy_top1", "val top-1"), ("metrics/accuracy_top5", "val top-5")):
        if col in df:
            a2.plot(df["epoch"], df[col], marker=".", label=label)
    best = (summary or {}).get("best_epoch")
    if best is not None:
        for ax in (a1, a2):
            ax.axvline(best, color="grey", ls=":", lw=1)
        a2.annotate(
            f"best val top-1 {summary['best_val_top1']:.3f}\n(epoch {best})",
            (best, summary["best_val_top1"]),
            textcoords="offset points",
            xytext=(5, -30),
            fontsize=8,
        )
    a2.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
    a2.legend(loc="lower right")
    if "time" in df:  # Ultralytics writes the cumulative seconds
        a3.bar(df["epoch"], np.diff(np.concatenate([[0.0], df["time"].to_numpy()])))
    a3.set(title="Time", xlabel="epoch", ylabel="seconds per epoch")
    if summary:
        stop = (
            f"stopped early after {summary['epochs_run']} of {summary['epochs_configured']} epochs "
            f"(patience {summary['patience']})"
            if summary["stopped_early"]
            else f"{summary['epochs_run']} epochs"
        )
        members = summary.get("members") or 1
        first = f" (the first of the ensemble's {members} members)" if members > 1 else ""
        fig.suptitle(f"Training{first}: {stop}; dotted line: the best val epoch")
    else:
        fig.suptitle("Training")
    _save(fig, path)


def plot_example_spectrograms(examples, settings, path) -> None:
    """One spectrogram per class on axes in seconds and Hz, on one shared dB colour range (the tutorial's view).

    `examples` is a list of (label, samples at the analysis rate); the values are those the training image
    shows before each clip's own normalisation (peak = top of the colormap), so the shared colour bar
    compares loudness across classes.
    """
    from .spectrogram import fit_duration, frequency_ticks, spectrogram_db

    plt = _pyplot()
    n = len(examples)
    cols = min(n, 3)
    rows = -(-n // cols)
    dbs = [spectrogram_db(fit_duration(x, settings.sample_rate, settings.duration_s), settings) for _, x in examples]
    top = max(float(db.max()) for db in dbs)
    low = max(top - settings.top_db, 0.0)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.4 * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.axis("off")
    mesh = None
    for ax, (label, _), db in zip(axes.flat, examples, dbs):
        seconds = db.shape[1] * settings.hop_length / settings.sample_rate
        mesh = ax.imshow(
            db,
            origin="lower",
            aspect="auto",
            cmap=settings.colormap,
            vmin=low,
            vmax=top,
            extent=(0, seconds, -0.5, db.shape[0] - 0.5),
            interpolation="nearest",
        )
        positions, labels = frequency_ticks(settings, db.shape[0])
        ax.set_yticks(positions, labels)
        ax.set_title(label)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
    fig.colorbar(mesh, ax=axes.ravel().tolist(), label="level (dB re amplitude 1e-5, one range for all panels)")
    fig.suptitle(
        f"{settings.freq_scale} spectrogram at {settings.sample_rate / 1000:g} kHz, n_fft {settings.n_fft}, "
        f"hop {settings.hop_length}; colour range {settings.top_db:g} dB below the loudest example"
    )
    _save(fig, path)


def plot_examples_from_listing(listing_csv, path, settings: dict) -> None:
    """The plot_examples rule: the first training clip of each class (in clip-id order)."""
    import pandas as pd

    from .render import load_clip
    from .spectrogram import SpectrogramSettings

    spec = SpectrogramSettings(**settings)
    listing = pd.read_csv(listing_csv, dtype={"clip_id": str, "label": str}).sort_values("clip_id")
    examples = [(label, load_clip(rows["audio"].iloc[0], spec)) for label, rows in listing.groupby("label", sort=True)]
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
    title = (
        f"{summary['clips']} clips, {summary.get('total_duration_s', 0) / 60:.1f} min of audio; {rates}; "
        f"{len(summary.get('bad_audio', []))} skipped as bad audio"
    )
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
        ax.set_title(
            f"{rec.clip_id}\n{rec.true} → {rec.predicted} ({rec.probability:.2f})\n"
            f"p({rec.true}) = {rec.true_probability:.2f}",
            fontsize=7,
        )
    if shown.empty:
        axes.flat[0].text(0.5, 0.5, f"no misclassified {split} clips", ha="center", va="center")
    fig.suptitle(
        f"{len(wrong)} misclassified {split} clips"
        + (f" (the {limit} most confident shown)" if len(wrong) > limit else "")
    )
    fig.tight_layout()
    _save(fig, path)


def timeline_file_names(recording_ids) -> dict:
    """recording id -> a flat file name for its timeline plot (folders become `__`; unique: a name two ids
    would share gets each id's hash)."""
    from collections import Counter

    from .names import flat_name, short_hash

    flat = {rid: flat_name(rid, "png") for rid in recording_ids}
    shared = {name for name, n in Counter(flat.values()).items() if n > 1}
    return {rid: f"{name[:-4]}~{short_hash(rid)}.png" if name in shared else name for rid, name in flat.items()}


def plot_prediction_timelines(summaries, window_csvs, out_dir, model_path, settings) -> list:
    """One plot per recording longer than one window: its spectrogram above the class probabilities over
    time, the confidence threshold as a line and the detections shaded. `settings` None: no plots."""
    from pathlib import Path

    import pandas as pd

    from .model import read_card
    from .prediction import recording_overview
    from .safety import mark_directory
    from .spectrogram import frequency_ticks

    plt = _pyplot()
    out_dir = Path(out_dir)
    mark_directory(out_dir)
    long = [(s, csv) for s, csv in zip(summaries, window_csvs) if s["status"] == "ok" and s["windows"] >= 2]
    if settings is None or not long:
        return []
    spec = read_card(model_path).settings()
    file_names = timeline_file_names([s["recording"] for s, _ in long])
    written = []
    for summary, csv in long:
        rows = pd.read_csv(csv, keep_default_na=False)
        classes = [c[2:] for c in rows.columns if c.startswith("p_")]
        shown = sorted(classes, key=lambda c: -rows[f"p_{c}"].max())[:6]  # the classes that ever score highest
        centres = (rows["start_s"] + rows["end_s"]) / 2
        db, times = recording_overview(summary["file"], spec)
        fig, (top, bottom) = plt.subplots(
            2, 1, figsize=(11, 5.5), sharex=True, height_ratios=(1, 1.2), layout="constrained"
        )
        peak = float(db.max())
        step = times[1] - times[0] if len(times) > 1 else summary["duration_s"]
        top.imshow(
            db,
            origin="lower",
            aspect="auto",
            cmap=spec.colormap,
            vmin=max(peak - spec.top_db, 0),
            vmax=peak,
            extent=(times[0] - step / 2, times[-1] + step / 2, -0.5, db.shape[0] - 0.5),
            interpolation="nearest",
        )
        positions, labels = frequency_ticks(spec, db.shape[0], count=5)
        top.set_yticks(positions, labels)
        top.set_ylabel("frequency (Hz)")
        for c in shown:
            bottom.plot(centres, rows[f"p_{c}"], marker="." if len(rows) < 200 else None, lw=1, label=c)
        bottom.axhline(
            settings.min_confidence, color="black", ls="--", lw=1, label=f"threshold {settings.min_confidence:g}"
        )
        for d in summary["detections"]:
            bottom.axvspan(d["start_s"], d["end_s"], color="grey", alpha=0.15, lw=0)
        bottom.set_xlim(0, summary["duration_s"])
        bottom.set_ylim(0, 1.02)
        bottom.set_xlabel("time (s); shaded: detections")
        bottom.set_ylabel("probability")
        bottom.legend(fontsize=7, ncol=min(7, len(shown) + 1), loc="upper right")
        heard = ", ".join(f"{r['label']} {r['detected_s']:g} s" for r in summary["labels"][:4]) or "no confident label"
        fig.suptitle(f"{Path(summary['file']).name}: {summary['duration_s']:g} s; {heard}", fontsize=10)
        path = out_dir / file_names[summary["recording"]]
        _save(fig, path)
        written.append(path)
    return written
