"""Held-out evaluation: top-1/top-5, per-class scores, confusion matrix, on the val and test splits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .fileio import atomic_write_text
from .metrics import classification_report, most_confused_pairs
from .model import Classifier


def load_rgb(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def evaluate_split(classifier: Classifier, listing: pd.DataFrame, split: str, batch: int):
    names = classifier.classes
    index = {n: i for i, n in enumerate(names)}
    rows = listing[listing["split"] == split]
    unknown = sorted(set(rows["label"]) - set(index))
    if unknown:
        raise ValueError(f"the model does not know the class(es) {unknown} found in the {split} split")
    probs = classifier.probabilities([load_rgb(p) for p in rows["image"]], batch)
    truth = rows["label"].map(index).to_numpy(dtype=int)
    return rows, probs, truth


def training_summary(results_csv, epochs_configured: int, patience: int) -> dict:
    """How the training went, from Ultralytics' per-epoch table: epochs run, the best val epoch, early stop
    (an ensemble's first member's)."""
    from .crossval import epoch_table

    table = epoch_table(results_csv, first_member=True)
    run = len(table)
    top1 = table["metrics/accuracy_top1"] if "metrics/accuracy_top1" in table else pd.Series(dtype=float)
    best = int(table["epoch"].iloc[int(top1.to_numpy().argmax())]) if len(top1) else None
    return {
        "epochs_configured": int(epochs_configured),
        "epochs_run": run,
        "best_epoch": best,
        "best_val_top1": float(top1.max()) if len(top1) else None,
        "final_val_top1": float(top1.iloc[-1]) if len(top1) else None,
        # Ultralytics stops when val fitness (mean of top-1 and top-5) has not improved for `patience` epochs (0: never)
        "stopped_early": bool(run < epochs_configured),
        "patience": int(patience),
    }


def evaluate_model(
    weights_pt,
    listing_csv,
    metrics_json,
    predictions_csv,
    confusion_png,
    curves_png,
    results_csv,
    per_class_csv,
    confused_csv,
    misclassified_png,
    batch,
    device,
    settings: dict,
    time_rolls: int = 1,
) -> dict:
    """The evaluate rule: metrics.json, per-clip test predictions and the two evaluation plots. Clips are
    classified as prediction classifies windows (`predict.time_rolls`), so the metrics are what it gets."""
    from .plots import plot_confusion_matrix, plot_misclassified, plot_training_curves

    # its model card gives the classes, the input size and the time shift it learnt (which rolls apply)
    classifier = Classifier(weights_pt, device, time_rolls)
    names = classifier.classes
    listing = pd.read_csv(listing_csv, dtype={"clip_id": str, "label": str})
    train = settings.get("train", {})
    summary = training_summary(results_csv, train.get("epochs", 0), train.get("patience", 0))
    summary["device"] = classifier.card.trained.get("device")  # where it was trained (the card says)
    summary["precision"] = classifier.card.trained.get("precision")  # fp32, bf16 or fp16 (None: before 2026-12-03)
    summary["members"] = classifier.card.members  # trainings averaged (train.ensemble); the rest is the first's
    report = {"classes": names, "settings": settings, "training": summary, "time_rolls": classifier.time_rolls}
    per_clip = []
    for split in ("val", "test"):
        rows, probs, truth = evaluate_split(classifier, listing, split, batch)
        report[split] = classification_report(probs, truth, names)
        report[split]["most_confused"] = most_confused_pairs(report[split]["confusion_matrix"], names)
        predicted = probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
        per_clip.append(
            pd.DataFrame(
                {
                    "split": split,
                    "clip_id": rows["clip_id"].to_numpy(),
                    "true": rows["label"].to_numpy(),
                    "predicted": [names[i] for i in predicted],
                    "probability": probs.max(axis=1) if len(probs) else [],
                    "true_probability": probs[np.arange(len(truth)), truth] if len(probs) else [],
                    "image": rows["image"].to_numpy(),
                }
            )
        )
    atomic_write_text(metrics_json, json.dumps(report, indent=2) + "\n")
    atomic_write_text(
        predictions_csv, pd.concat(per_clip).to_csv(index=False, float_format="%.6f", lineterminator="\n")
    )
    shown = "test" if report["test"]["clips"] else "val"
    plot_confusion_matrix(report[shown]["confusion_matrix"], names, confusion_png, f"Confusion matrix ({shown})")
    plot_training_curves(results_csv, curves_png, report["training"])
    plot_misclassified(predictions_csv, misclassified_png, shown)
    per_class = pd.DataFrame(report[shown]["per_class"]).T.rename_axis("class").reset_index()
    atomic_write_text(per_class_csv, per_class.to_csv(index=False, float_format="%.3f", lineterminator="\n"))
    confused = pd.DataFrame(report[shown]["most_confused"], columns=["true", "predicted", "count"])
    atomic_write_text(confused_csv, confused.to_csv(index=False, lineterminator="\n"))
    for split in ("val", "test"):
        r = report[split]
        print(f"[seesound] {split}: {r['clips']} clips, top-1 {r['top1']:.3f}, top-5 {r['top5']:.3f}", flush=True)
    return report
