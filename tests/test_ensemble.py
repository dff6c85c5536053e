"""Ensembles (`train.ensemble`): one model file averaging several trainings, as .pt and as ONNX, and the
workflow that trains the members and combines them."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY_TRAIN, edit_config, planned_jobs, run_snakemake
from seesound.model import (
    Classifier,
    ModelCard,
    ModelError,
    ensemble_card,
    load_classifier,
    read_card,
    write_ensemble_checkpoint,
    write_untrained_model,
)
from seesound.render import RENDERER_VERSION
from seesound.spectrogram import SpectrogramSettings
from seesound.training import average_onnx_members, export_onnx


def member_card(seed: int, classes=("a", "b", "c")) -> ModelCard:
    settings = SpectrogramSettings(image_size=32).as_dict()
    return ModelCard(list(classes), settings, 1.0, 32, RENDERER_VERSION, "test", {"seed": seed}, 0.5)


def write_distinct_untrained_model(path, seed: int) -> None:
    """An untrained model whose outputs clearly differ from another seed's: freshly initialised networks
    all answer nearly uniform probabilities (their outputs differed by under 1e-3 on CI), so each gets a
    head bias of its own."""
    write_untrained_model(path, member_card(seed))
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    head = checkpoint["model"].model[-1].linear
    with torch.no_grad():
        head.bias.copy_(torch.from_numpy(np.random.default_rng(seed).normal(0, 1, head.bias.shape)))
    torch.save(checkpoint, path)


@pytest.fixture
def two_members(tmp_path):
    """Two untrained models (different initial weights) and their ensemble's file."""
    paths = [tmp_path / "m1.pt", tmp_path / "m2.pt"]
    for seed, path in enumerate(paths):
        write_distinct_untrained_model(path, seed)
    ensemble = tmp_path / "ensemble.pt"
    write_ensemble_checkpoint(paths, ensemble, ensemble_card([read_card(p) for p in paths]))
    return paths, ensemble


def some_images(n=5):
    return list(np.random.default_rng(0).integers(0, 256, (n, 40, 50, 3), dtype=np.uint8))


def test_an_ensemble_file_gives_the_mean_of_its_members_probabilities(two_members):
    paths, ensemble = two_members
    images = some_images()
    for rolls in (1, 2):  # each member at each time roll, all averaged
        members = [Classifier(p, "cpu", rolls).probabilities(images) for p in paths]
        assert not np.allclose(members[0], members[1], atol=1e-3)  # two different networks
        np.testing.assert_allclose(
            Classifier(ensemble, "cpu", rolls).probabilities(images), np.mean(members, 0), atol=1e-6
        )
    card = read_card(ensemble)
    assert card.members == 2 and [m["seed"] for m in card.trained["members"]] == [0, 1]
    assert load_classifier(ensemble).task == "classify"  # Ultralytics still loads it (the first member)


def test_an_ensemble_of_ensembles_is_one_flat_ensemble(two_members, tmp_path):
    paths, ensemble = two_members
    write_distinct_untrained_model(tmp_path / "m3.pt", 2)
    parts = [ensemble, tmp_path / "m3.pt"]
    bigger = tmp_path / "bigger.pt"
    write_ensemble_checkpoint(parts, bigger, ensemble_card([read_card(p) for p in parts]))
    images = some_images()
    members = [Classifier(p).probabilities(images) for p in [*paths, tmp_path / "m3.pt"]]
    np.testing.assert_allclose(Classifier(bigger).probabilities(images), np.mean(members, 0), atol=1e-6)
    assert [m["seed"] for m in read_card(bigger).trained["members"]] == [0, 1, 2]


def test_members_that_would_be_applied_differently_are_not_combined(tmp_path):
    with pytest.raises(ModelError, match=r"member 2 differs from member 1 in classes"):
        ensemble_card([member_card(0), member_card(1, classes=("a", "b", "d"))])


def test_a_file_whose_card_counts_other_members_is_refused(two_members, tmp_path):
    from dataclasses import replace

    paths, _ = two_members
    wrong = tmp_path / "wrong.pt"
    write_ensemble_checkpoint(paths, wrong, replace(ensemble_card([read_card(p) for p in paths]), members=3))
    with pytest.raises(ModelError, match="holds 2 networks where its card says 3"):
        Classifier(wrong)


def test_the_onnx_export_of_an_ensemble_averages_its_members_in_one_graph(two_members, tmp_path):
    paths, ensemble = two_members
    exports = [tmp_path / "m1.onnx", tmp_path / "m2.onnx"]
    for path, export in zip(paths, exports):
        export_onnx(path, export, read_card(path), 32)
    card = read_card(ensemble)
    average_onnx_members(exports, tmp_path / "ensemble.onnx", card)
    assert read_card(tmp_path / "ensemble.onnx") == card
    images = some_images()
    np.testing.assert_allclose(
        Classifier(tmp_path / "ensemble.onnx").probabilities(images),
        Classifier(ensemble).probabilities(images),
        atol=2e-5,
    )


def test_members_train_as_jobs_of_their_own_and_the_first_is_the_single_model(work):
    """train.ensemble 2 trains one more model (seed + 1) and combines the two: the single model already
    there is member 1 and is not trained again; evaluation reports the ensemble. Back to 1, the single
    model is installed again without any training."""
    import torch

    results = work / "results"
    single = (results / "model" / "trained" / "last.pt").read_bytes()
    edit_config(work, "train", ensemble=2)
    planned = planned_jobs(work)
    assert planned.get("train_member") == 1 and planned.get("combine_members") == 1 and "train" not in planned
    run_snakemake(work, "--cores", "2")
    assert (results / "model" / "trained" / "last.pt").read_bytes() == single
    card = json.loads((results / "model" / "model_card.json").read_text())
    assert card["members"] == 2 and [m["seed"] for m in card["trained"]["members"]] == [0, 1]
    table = pd.read_csv(results / "model" / "results.csv")
    assert list(table["member"].unique()) == [1, 2] and table.columns[0] == "member"
    metrics = json.loads((results / "metrics.json").read_text())
    assert metrics["training"]["members"] == 2 and metrics["training"]["epochs_run"] == TINY_TRAIN["epochs"]
    stages = pd.read_csv(results / "tables" / "stage_times.csv")["stage"].tolist()
    assert "train_member2" in stages and "combine_members" in stages  # run.json's seconds per stage
    member2 = torch.load(results / "model" / "members" / "2" / "trained" / "last.pt", weights_only=False)
    assert member2["train_args"]["seed"] == 1
    edit_config(work, "train", ensemble=1)
    planned = planned_jobs(work)
    assert "train" not in planned and "train_member" not in planned and planned.get("install_model") == 1
    run_snakemake(work, "--cores", "2", "evaluate")
    assert json.loads((results / "model" / "model_card.json").read_text())["members"] == 1


def test_cross_validation_trains_each_folds_members(work):
    edit_config(work, "train", ensemble=3)
    edit_config(work, "split", method="cv", cv_folds=2)
    planned = planned_jobs(work, "cv")
    assert planned["cv_train"] == 2 and planned["cv_train_member"] == 4 and planned["cv_combine_members"] == 2


def test_an_exported_ensemble_is_one_onnx_graph_that_classifies_as_its_weights_do(work):
    results = work / "results"
    edit_config(work, "train", ensemble=2, export=True)
    run_snakemake(work, "--cores", "2", "model")
    weights = results / "model" / "weights"
    assert read_card(weights / "last.onnx").members == 2
    images = some_images()
    np.testing.assert_allclose(
        Classifier(weights / "last.onnx").probabilities(images),
        Classifier(weights / "last.pt").probabilities(images),
        atol=2e-4,
    )
