"""Classification metrics from probabilities: top-k accuracy, confusion matrix, per-class P/R/F1."""

from __future__ import annotations

import numpy as np


def top_k_accuracy(probs: np.ndarray, truth: np.ndarray, k: int) -> float:
    if len(truth) == 0:
        return float("nan")
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == truth[:, None]).any(axis=1)))


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (truth, predicted), 1)
    return cm


def per_class_scores(cm: np.ndarray, names) -> dict:
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, actual)
    }


def classification_report(probs: np.ndarray, truth: np.ndarray, names) -> dict:
    predicted = probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
    cm = confusion_matrix(truth, predicted, len(names))
    scores = per_class_scores(cm, names)
    return {
        "clips": len(truth),
        "top1": top_k_accuracy(probs, truth, 1),
        "top5": top_k_accuracy(probs, truth, 5),
        "macro_f1": float(np.mean([s["f1"] for s in scores.values()])) if len(names) else float("nan"),
        "per_class": scores,
        "confusion_matrix": cm.tolist(),
    }


def most_confused_pairs(cm, names, n: int = 5) -> list[dict]:
    cm = np.asarray(cm)
    off = [
        (int(cm[i, j]), names[i], names[j])
        for i in range(len(names))
        for j in range(len(names))
        if i != j and cm[i, j] > 0
    ]
    return [{"true": t, "predicted": p, "count": c} for c, t, p in sorted(off, key=lambda x: (-x[0], x[1], x[2]))[:n]]
