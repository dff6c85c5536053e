"""Metrics on hand-made predictions."""

import numpy as np

from seesound.metrics import classification_report, most_confused_pairs, top_k_accuracy


def test_top_k_and_confusion_and_per_class_scores():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.5, 0.4, 0.1]])
    truth = np.array([0, 1, 1, 1])
    assert top_k_accuracy(probs, truth, 1) == 0.5
    assert top_k_accuracy(probs, truth, 2) == 1.0
    r = classification_report(probs, truth, ["a", "b", "c"])
    assert r["confusion_matrix"] == [[1, 0, 0], [1, 1, 1], [0, 0, 0]]
    assert r["per_class"]["a"]["precision"] == 0.5 and r["per_class"]["b"]["recall"] == 1 / 3
    assert r["top5"] == 1.0
    assert most_confused_pairs(r["confusion_matrix"], ["a", "b", "c"])[0] == {"true": "b", "predicted": "a", "count": 1}
