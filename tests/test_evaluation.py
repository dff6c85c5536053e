"""Held-out evaluation without a workflow run: the training summary, and the class check of a split."""

import numpy as np
import pandas as pd
import pytest

from seesound.evaluation import evaluate_split, training_summary


def results_csv(path, top1):
    """Ultralytics' per-epoch table (its header has padded names)."""
    rows = [f"{e + 1},{0.5 / (e + 1):.4f},{t:.4f}" for e, t in enumerate(top1)]
    path.write_text("epoch,  train/loss,  metrics/accuracy_top1\n" + "\n".join(rows) + "\n")
    return path


def test_the_training_summary_tells_an_early_stop_and_the_best_epoch(tmp_path):
    summary = training_summary(results_csv(tmp_path / "r.csv", [0.2, 0.6, 0.9, 0.7, 0.8]), 90, 3)
    assert summary == {
        "epochs_configured": 90,
        "epochs_run": 5,
        "best_epoch": 3,
        "best_val_top1": 0.9,
        "final_val_top1": 0.8,
        "stopped_early": True,
        "patience": 3,
    }
    full = training_summary(results_csv(tmp_path / "f.csv", [0.5, 0.4]), 2, 0)
    assert full["stopped_early"] is False and full["best_epoch"] == 1


class FixedClassifier:
    """A classifier that gives each image its first pixel's red value as class index, with certainty."""

    classes = ("a", "b", "c")

    def probabilities(self, images, batch):
        out = np.zeros((len(images), 3))
        out[np.arange(len(images)), [int(im[0, 0, 0]) for im in images]] = 1.0
        return out


def test_a_split_is_scored_image_by_image_and_an_unknown_class_is_named(tmp_path):
    from PIL import Image

    paths = []
    for i, value in enumerate([0, 1, 2, 1]):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((4, 4, 3), value, np.uint8)).save(paths[-1])
    listing = pd.DataFrame(
        {"clip_id": list("wxyz"), "label": ["a", "b", "c", "a"], "split": "test", "image": [str(p) for p in paths]}
    )
    rows, probs, truth = evaluate_split(FixedClassifier(), listing, "test", batch=2)
    assert list(truth) == [0, 1, 2, 0] and list(probs.argmax(axis=1)) == [0, 1, 2, 1] and len(rows) == 4
    listing.loc[3, "label"] = "dog"
    with pytest.raises(ValueError, match=r"does not know the class\(es\) \['dog'\] found in the test split"):
        evaluate_split(FixedClassifier(), listing, "test", batch=2)
