"""The cross-validation summary: mean ± std over folds, the pooled confusion matrix, training time."""

import numpy as np
import pytest

from seesound.crossval import summarize_folds, training_seconds


def fold_metrics(confusion, val_top1=0.5, classes=("a", "b")):
    cm = np.asarray(confusion)
    return {
        "classes": list(classes),
        "settings": {"epochs": 3},
        "val": {"top1": val_top1},
        "test": {
            "clips": int(cm.sum()),
            "top1": float(np.trace(cm) / cm.sum()),
            "top5": 1.0,
            "macro_f1": 0.5,
            "confusion_matrix": cm.tolist(),
        },
    }


def test_scores_are_averaged_with_the_sample_std_and_confusions_pooled():
    folds = {1: fold_metrics([[4, 0], [0, 4]]), 2: fold_metrics([[2, 2], [2, 2]])}
    summary = summarize_folds(folds, {1: 10.0, 2: 20.0})
    assert summary["top1"]["mean"] == pytest.approx(0.75)
    assert summary["top1"]["std"] == pytest.approx(np.std([1.0, 0.5], ddof=1))
    assert summary["pooled"]["confusion_matrix"] == [[6, 2], [2, 6]]
    assert summary["pooled"]["top1"] == pytest.approx(0.75)
    assert summary["train_s_per_fold"]["mean"] == pytest.approx(15.0)
    assert [row["fold"] for row in summary["per_fold"]] == [1, 2]


def test_folds_with_different_classes_are_refused():
    with pytest.raises(ValueError, match="fold 2 has classes"):
        summarize_folds(
            {1: fold_metrics([[1, 0], [0, 1]]), 2: fold_metrics([[1, 0], [0, 1]], classes=("a", "c"))}, {1: 1.0, 2: 1.0}
        )


def test_training_seconds_add_up_the_runs_of_a_resumed_training(tmp_path):
    csv = tmp_path / "results.csv"
    csv.write_text("epoch, time,train/loss\n1,10.0,2.0\n2,20.5,1.5\n3,4.0,1.2\n4,9.0,1.0\n")  # resumed after epoch 2
    assert training_seconds(csv) == pytest.approx(29.5)
    csv.write_text("epoch,time,train/loss\n1,10.0,2.0\n2,20.5,1.5\n")
    assert training_seconds(csv) == pytest.approx(20.5)


def test_training_seconds_of_an_ensemble_add_up_its_members(tmp_path):
    """combine_members numbers each member's epochs; a member whose first epoch took longer than the previous
    member's last still counts as a run of its own."""
    csv = tmp_path / "results.csv"
    csv.write_text("member,epoch,time\n1,1,3.0\n1,2,6.0\n2,1,7.0\n2,2,14.0\n3,1,5.0\n3,2,9.5\n")
    assert training_seconds(csv) == pytest.approx(6.0 + 14.0 + 9.5)
