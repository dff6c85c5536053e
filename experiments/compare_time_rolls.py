#!/usr/bin/env python3
"""Test top-1 of finished cross-validation folds at several time-roll counts, and of two settings averaged.

Reads a setting's folder as experiments/run_accuracy.py leaves it (<out>/<setting>/results/cv/fold<k>/:
split.csv, model/weights/last.pt) and classifies each fold's test images with `Classifier` at each count of
`--rolls` (model.Classifier: the count is used only when the model card's time shift covers it), printing
one row per fold and the mean. With --with (once or more), other settings' models of the same folds are
averaged in (an ensemble of their trainings, at the largest count, as `train.ensemble` averages its
members' probabilities). With --band-shifts, each set of band shifts (image
rows, as `train.augment.freq_shift` moves the levels in training, silence coming in at the edge) is
averaged too, at the largest count: a test-time augmentation over pitch as the rolls are over time
(palette-PNG styles only). README "Accuracy: ESC-50" quotes its output:

    python experiments/compare_time_rolls.py results/accuracy/default --rolls 1,2,4,8
    python experiments/compare_time_rolls.py results/accuracy/default --with results/accuracy/wd-0.5 --rolls 4
    python experiments/compare_time_rolls.py results/accuracy/default-bf16 --with results/accuracy/seed1-default-bf16 \
        --with results/accuracy/seed2-default-bf16 --rolls 4
    python experiments/compare_time_rolls.py results/accuracy/default --rolls 4 --band-shifts="-4,0,4;-8,-4,0,4,8"
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from seesound.augment import shift_bands
from seesound.evaluation import load_rgb
from seesound.model import Classifier
from seesound.render import read_levels
from seesound.spectrogram import PLANE_STYLES, colormap_lut


def fold_probabilities(
    setting_dir: Path, fold: int, rolls: int, band_shifts=(None,)
) -> tuple[np.ndarray, np.ndarray, int]:
    """(probabilities, true class indices, rolls really used) on the fold's test images; with band shifts
    (image rows; None: the image as written) the mean over the images with their levels shifted by each."""
    fold_dir = setting_dir / "results" / "cv" / f"fold{fold}"
    listing = pd.read_csv(fold_dir / "split.csv", dtype={"clip_id": str, "label": str})
    test = listing[listing["split"] == "test"]
    classifier = Classifier(fold_dir / "model" / "weights" / "last.pt", "cpu", rolls)
    index = {name: i for i, name in enumerate(classifier.classes)}
    probabilities = []
    for shift in band_shifts:
        if shift is None:
            images = [load_rgb(setting_dir / path) for path in test["image"]]
        else:
            settings = classifier.card.settings()
            if settings.style in PLANE_STYLES or settings.style == "tutorial":
                raise SystemExit(f"--band-shifts: style {settings.style!r} images hold no palette levels")
            lut = colormap_lut(settings.colormap)
            images = [lut[shift_bands(read_levels(setting_dir / p, settings.colormap), shift)] for p in test["image"]]
        probabilities.append(classifier.probabilities(images, 64))
    return np.mean(probabilities, axis=0), test["label"].map(index).to_numpy(), classifier.time_rolls


def has_model(setting_dir: Path, fold: int) -> bool:
    return (setting_dir / "results" / "cv" / f"fold{fold}" / "model" / "weights" / "last.pt").is_file()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("setting_dir", type=Path)
    parser.add_argument("--rolls", default="1,2,4,8", help="comma-separated time-roll counts")
    parser.add_argument(
        "--with", dest="others", type=Path, action="append", default=[], help="another setting's folder to average in"
    )
    parser.add_argument(
        "--band-shifts",
        default="",
        help='semicolon-separated sets of band shifts in image rows, e.g. --band-shifts="-4,0,4;-8,0,8"',
    )
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.rolls.split(",")]
    shift_sets = [[int(x) for x in group.split(",")] for group in args.band_shifts.split(";") if group.strip()]
    rows = []
    for fold in range(1, 100):
        if not all(has_model(d, fold) for d in (args.setting_dir, *args.others)):
            continue  # a fold not trained (in every setting)
        row = {"fold": fold}
        for count in counts:
            probs, truth, used = fold_probabilities(args.setting_dir, fold, count)
            row[f"rolls {count}" + ("" if used == count else f" (used {used})")] = (
                100 * (probs.argmax(1) == truth).mean()
            )
        for shifts in shift_sets:
            shifted, _, _ = fold_probabilities(args.setting_dir, fold, counts[-1], shifts)
            row[f"rolls {counts[-1]}, bands {','.join(map(str, shifts))}"] = 100 * (shifted.argmax(1) == truth).mean()
        averaged = [probs]
        for other_dir in args.others:
            other, other_truth, _ = fold_probabilities(other_dir, fold, counts[-1])
            if not np.array_equal(truth, other_truth):
                raise SystemExit(f"fold {fold}: {other_dir} does not test on the same clips as {args.setting_dir}")
            averaged.append(other)
            row[f"with {other_dir.name}, rolls {counts[-1]}"] = 100 * (np.mean(averaged, 0).argmax(1) == truth).mean()
        rows.append(row)
    table = pd.DataFrame(rows).set_index("fold")
    table.loc["mean"] = table.mean()
    print(table.round(2).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
