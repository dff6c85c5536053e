#!/usr/bin/env python3
"""Test top-1 of finished cross-validation folds at several time-roll counts, and of two settings averaged.

Reads a setting's folder as experiments/run_accuracy.py leaves it (<out>/<setting>/results/cv/fold<k>/:
split.csv, model/weights/last.pt) and classifies each fold's test images with `Classifier` at each count of
`--rolls` (model.Classifier: the count is used only when the model card's time shift covers it), printing
one row per fold and the mean. With --with, a second setting's models of the same folds are averaged in
(an ensemble of two trainings, at the largest count). README "Accuracy: ESC-50" quotes its output:

    python experiments/compare_time_rolls.py results/accuracy/default --rolls 1,2,4,8
    python experiments/compare_time_rolls.py results/accuracy/default --with results/accuracy/wd-0.5 --rolls 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from seesound.evaluation import load_rgb
from seesound.model import Classifier


def fold_probabilities(setting_dir: Path, fold: int, rolls: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(probabilities, true class indices, rolls really used) on the fold's test images."""
    fold_dir = setting_dir / "results" / "cv" / f"fold{fold}"
    listing = pd.read_csv(fold_dir / "split.csv", dtype={"clip_id": str, "label": str})
    test = listing[listing["split"] == "test"]
    classifier = Classifier(fold_dir / "model" / "weights" / "last.pt", "cpu", rolls)
    index = {name: i for i, name in enumerate(classifier.classes)}
    images = [load_rgb(setting_dir / path) for path in test["image"]]
    return classifier.probabilities(images, 64), test["label"].map(index).to_numpy(), classifier.time_rolls


def has_model(setting_dir: Path, fold: int) -> bool:
    return (setting_dir / "results" / "cv" / f"fold{fold}" / "model" / "weights" / "last.pt").is_file()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("setting_dir", type=Path)
    parser.add_argument("--rolls", default="1,2,4,8", help="comma-separated time-roll counts")
    parser.add_argument("--with", dest="other", type=Path, help="a second setting's folder to average in")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.rolls.split(",")]
    rows = []
    for fold in range(1, 100):
        if not all(has_model(d, fold) for d in (args.setting_dir, args.other) if d is not None):
            continue  # a fold not trained (in both settings)
        row = {"fold": fold}
        for count in counts:
            probs, truth, used = fold_probabilities(args.setting_dir, fold, count)
            row[f"rolls {count}" + ("" if used == count else f" (used {used})")] = (
                100 * (probs.argmax(1) == truth).mean()
            )
        if args.other is not None:
            other, other_truth, _ = fold_probabilities(args.other, fold, counts[-1])
            if not np.array_equal(truth, other_truth):
                raise SystemExit(f"fold {fold}: the two settings do not test on the same clips")
            row[f"with {args.other.name}, rolls {counts[-1]}"] = 100 * ((probs + other).argmax(1) == truth).mean()
        rows.append(row)
    table = pd.DataFrame(rows).set_index("fold")
    table.loc["mean"] = table.mean()
    print(table.round(2).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
