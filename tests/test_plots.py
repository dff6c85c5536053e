"""seesound's own figures, each drawn from the files the rules give it: a real PNG, whatever the input's size."""

import json

import numpy as np
import pandas as pd
from PIL import Image

from conftest import tone
from seesound.plots import (
    plot_confusion_matrix,
    plot_cv_folds,
    plot_dataset_summary,
    plot_example_spectrograms,
    plot_misclassified,
    plot_training_curves,
    timeline_file_names,
)
from seesound.spectrogram import SpectrogramSettings


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_the_confusion_matrix_scales_with_the_classes(tmp_path):
    plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"], tmp_path / "two.png")
    names = [f"class_{i}" for i in range(50)]
    plot_confusion_matrix(np.eye(50, dtype=int).tolist(), names, tmp_path / "fifty.png")
    plot_confusion_matrix([[0, 0], [0, 0]], ["a", "b"], tmp_path / "empty.png")  # no clips: no division by zero
    assert png_size(tmp_path / "fifty.png")[0] > png_size(tmp_path / "two.png")[0] >= 300
    assert png_size(tmp_path / "empty.png")[0] >= 300


def test_cross_validation_folds_and_training_curves(tmp_path):
    summary = {
        "per_fold": [{"fold": f, "top1": t} for f, t in ((1, 0.8), (2, 0.9), (3, 0.85))],
        "top1": {"mean": 0.85, "std": 0.05},
    }
    plot_cv_folds(summary, tmp_path / "cv.png")
    results = tmp_path / "results.csv"
    results.write_text(
        "epoch,  train/loss,  val/loss,  metrics/accuracy_top1,  metrics/accuracy_top5,  time\n"
        + "\n".join(f"{e},{1 / e:.3f},{1.2 / e:.3f},{0.5 + e / 20:.3f},0.99,{3 * e}" for e in range(1, 6))
        + "\n"
    )
    training = {"best_epoch": 5, "best_val_top1": 0.75, "epochs_run": 5, "epochs_configured": 90}
    plot_training_curves(results, tmp_path / "curves.png", training | {"stopped_early": True, "patience": 3})
    plot_training_curves(results, tmp_path / "plain.png")
    assert png_size(tmp_path / "cv.png")[0] >= 300 and png_size(tmp_path / "curves.png")[0] > 1000


def test_example_spectrograms_share_one_colour_range(tmp_path):
    settings = SpectrogramSettings(n_fft=256, hop_length=128, n_mels=32, image_size=64, sample_rate=8000)
    examples = [
        ("quiet", tone(400, 0.5, 8000, 0.01)),
        ("loud", tone(1200, 0.5, 8000, 0.9)),
        ("mid", tone(800, 0.5, 8000, 0.2)),
    ]
    plot_example_spectrograms(examples, settings, tmp_path / "examples.png")
    width, height = png_size(tmp_path / "examples.png")
    assert width > 1000 and height > 200


def test_the_dataset_summary_names_a_class_left_out(tmp_path):
    summary = {
        "clips": 9,
        "classes": ["a", "b"],
        "clips_per_class_and_split": {"a": {"train": 3, "val": 1, "test": 1}, "b": {"train": 2, "val": 1, "test": 1}},
        "total_duration_s": 45.0,
        "sample_rates": {"16000": 9},
        "bad_audio": [{"clip_id": "c/x"}],
        "classes_left_out": [{"class": "c"}],
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    plot_dataset_summary(tmp_path / "summary.json", tmp_path / "dataset.png")
    assert png_size(tmp_path / "dataset.png")[0] >= 500


def test_misclassified_clips_are_shown_with_their_images_or_said_to_be_none(tmp_path):
    image = tmp_path / "clip.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(image)
    rows = [
        {
            "split": "test",
            "clip_id": f"a/{i}",
            "true": "a",
            "predicted": "b" if i % 2 else "a",
            "probability": 0.6,
            "true_probability": 0.4,
            "image": str(image),
        }
        for i in range(30)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "predictions.csv", index=False)
    plot_misclassified(tmp_path / "predictions.csv", tmp_path / "wrong.png", limit=12)
    plot_misclassified(tmp_path / "predictions.csv", tmp_path / "none.png", split="val")
    assert png_size(tmp_path / "wrong.png")[0] > png_size(tmp_path / "none.png")[0] / 2


def test_timeline_file_names_are_flat_and_never_shared():
    names = timeline_file_names(["site/a.wav", "site__a.wav", "b.flac"])
    assert len(set(names.values())) == 3 and all("/" not in n and n.endswith(".png") for n in names.values())
    assert names["b.flac"] == "b.flac.png"
