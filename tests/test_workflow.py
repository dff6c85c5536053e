"""End to end: the real `snakemake` on tiny synthetic datasets of every kind, checking what it writes."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import (
    SHARED_DATA,
    TINY_SPECTROGRAM,
    TINY_SPLIT,
    TINY_TRAIN,
    make_class_folders,
    needs_shared_data,
    no_slurm_env,
    planned_jobs,
    run_snakemake,
    tone,
    write_config,
    write_wav_file,
)
from seesound.model import read_card


def test_demo_run_writes_every_output_with_real_content(demo_run):
    r = demo_run / "results"
    images = sorted((r / "spectrograms").rglob("*.png"))
    assert len(images) == 30
    assert Image.open(images[0]).size == (64, 64)
    listing = pd.read_csv(r / "split.csv")
    assert set(listing.split) == {"train", "val", "test"} and len(listing) == 30
    for rec in listing.itertuples():
        link = r / "dataset" / rec.split / rec.label / (rec.clip_id.replace("/", "__") + ".png")
        assert link.is_symlink() and link.resolve() == (demo_run / rec.image).resolve()
    metrics = json.loads((r / "metrics.json").read_text())
    for split in ("val", "test"):
        m = metrics[split]
        assert 0 <= m["top1"] <= m["top5"] <= 1 and m["clips"] == (listing.split == split).sum()
        assert np.array(m["confusion_matrix"]).sum() == m["clips"]
        assert set(m["per_class"]) == set(metrics["classes"])
    assert metrics["settings"]["spectrogram"]["n_fft"] == 256
    # trained with the default time shift (half the width): evaluated, like prediction, at 4 time rolls
    assert read_card(r / "model" / "weights" / "last.pt").time_shift == 0.5 and metrics["time_rolls"] == 4
    assert (r / "model" / "weights" / "best.pt").stat().st_size > 100_000
    for plot in ("confusion_matrix", "training_curves", "example_spectrograms"):
        assert Image.open(r / "plots" / f"{plot}.png").size[0] > 300


def test_prediction_covers_a_long_file_with_sliding_windows(demo_run):
    pred = pd.read_csv(demo_run / "results" / "predictions.csv")
    assert list(pred.start_s) == [0.0, 0.5, 1.0, 1.5, 2.0]  # 3 s file, 1 s windows (the clips' length), 0.5 s hop
    assert pred.end_s.iloc[-1] == 3.0
    assert {"label", "level_dbfs", "label_1", "prob_1", "label_5", "prob_5"} <= set(pred.columns)
    probs = pred[[c for c in pred.columns if c.startswith("p_")]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert (pred.prob_1 >= pred.prob_2).all()


def test_a_complete_run_leaves_nothing_to_do(demo_run):
    assert planned_jobs(demo_run) == {}


def test_dry_run_plans_exactly_one_spectrogram_job_per_wav(tmp_path):
    make_class_folders(tmp_path / "data", per_class=7)
    write_config(tmp_path, {"dataset": {"kind": "folder", "path": str(tmp_path / "data")}})
    jobs = planned_jobs(tmp_path)
    assert jobs["spectrogram"] == 21 and jobs["split"] == 1 and jobs["train"] == 1


def test_folder_dataset_trains_and_a_checkpoint_fine_tunes(tmp_path):
    make_class_folders(tmp_path / "data", per_class=8)
    config = {"dataset": {"kind": "folder", "path": "data"}, "spectrogram": TINY_SPECTROGRAM, "train": TINY_TRAIN}
    write_config(tmp_path, config)
    run_snakemake(tmp_path, "--cores", "2")
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    assert metrics["classes"] == ["high", "low", "noise"]
    # the trained weights are a valid starting point for another training (fine-tuning from a .pt)
    config |= {"results_dir": "finetuned", "train": TINY_TRAIN | {"model": "results/model/weights/best.pt"}}
    write_config(tmp_path, config)
    run_snakemake(tmp_path, "--cores", "2", "model")
    assert (tmp_path / "finetuned" / "model" / "weights" / "best.pt").is_file()
    assert planned_jobs(tmp_path, "model") == {}
    # the starting checkpoint is an input of the training, judged by its bytes: the same bytes written again
    # train nothing, other bytes train the fine-tuning again
    starting = tmp_path / "results" / "model" / "weights" / "best.pt"
    starting.write_bytes(starting.read_bytes())
    assert planned_jobs(tmp_path, "model") == {}
    starting.write_bytes(starting.read_bytes() + b"\0")
    assert planned_jobs(tmp_path, "model").get("train") == 1
    # ... and never one of the run's own outputs, which the training would rewrite
    write_config(tmp_path, config | {"results_dir": "results"})
    own = run_snakemake(tmp_path, "-n", check=False)
    said = own.stdout + own.stderr
    assert own.returncode != 0 and "(train.model); the workflow writes and replaces files" in said, said[-2000:]


def test_csv_dataset_with_folds_splits_by_fold(tmp_path):
    rows = []
    for i in range(20):
        label = ["a", "b"][i % 2]
        write_wav_file(tmp_path / "clips" / f"{i}.wav", tone(300 + 500 * (i % 2), 0.5, 8000), 8000)
        rows.append(f"{i}.wav,{label},{i % 5 + 1},src{i}")
    (tmp_path / "meta.csv").write_text("filename,label,fold,group\n" + "\n".join(rows) + "\n")
    write_config(
        tmp_path,
        {
            "dataset": {"kind": "csv", "path": "meta.csv", "audio_dir": "clips"},
            "spectrogram": TINY_SPECTROGRAM,
            "train": TINY_TRAIN,
        },
    )
    write_wav_file(tmp_path / "clips" / "stray.wav", tone(), 8000)  # a file with no row
    proc = run_snakemake(tmp_path, "--cores", "2", "split")
    assert "1 WAV file(s) in clips have no row in the CSV and are not used" in proc.stdout + proc.stderr
    listing = pd.read_csv(tmp_path / "results" / "split.csv")
    assert set(listing.fold[listing.split == "test"]) == {5} and set(listing.fold[listing.split == "val"]) == {4}
    assert json.loads((tmp_path / "results" / "split_summary.json").read_text())["method"] == "folds"


def test_cross_validation_trains_one_model_per_fold_and_pools_the_test_folds(tmp_path):
    make_class_folders(tmp_path / "data", per_class=8)  # no folds of its own: 2 stratified group folds
    augment = {
        "time_shift": 0.2,
        "time_masks": 1,
        "freq_masks": 1,
        "gain_db": 6.0,
        "mixup": 0.5,
        "label_smoothing": 0.1,
    }
    write_config(
        tmp_path,
        {
            "dataset": {"kind": "folder", "path": "data"},
            "spectrogram": TINY_SPECTROGRAM,
            "split": {"method": "cv", "cv_folds": 2, "cv_val_ratio": 0.25},
            "train": TINY_TRAIN | {"augment": augment},
        },
    )
    jobs = planned_jobs(tmp_path)
    assert jobs["cv_train"] == 2 and jobs["cv_evaluate"] == 2 and "train" not in jobs  # no holdout model
    run_snakemake(tmp_path, "--cores", "2")
    results = tmp_path / "results"
    cv = json.loads((results / "cv_metrics.json").read_text())
    assert cv["folds"] == 2 and [row["fold"] for row in cv["per_fold"]] == [1, 2]
    assert cv["pooled"]["clips"] == 24 == sum(row["test_clips"] for row in cv["per_fold"])
    top1 = [row["top1"] for row in cv["per_fold"]]
    assert cv["top1"]["mean"] == pytest.approx(np.mean(top1)) and cv["top1"]["std"] == pytest.approx(
        np.std(top1, ddof=1)
    )
    assert cv["settings"]["train"]["augment"]["mixup"] == 0.5
    tested = []
    for fold in (1, 2):
        listing = pd.read_csv(results / "cv" / f"fold{fold}" / "split.csv")
        test = set(listing.clip_id[listing.split == "test"])
        assert test and not test & set(listing.clip_id[listing.split != "test"])
        tested += sorted(test)
        metrics = json.loads((results / "cv" / f"fold{fold}" / "metrics.json").read_text())
        assert metrics["test"]["clips"] == len(test)
    assert sorted(tested) == sorted(set(tested)) and len(tested) == 24  # every clip tested exactly once
    for png in ("cv_confusion_matrix.png", "cv_folds.png"):
        assert Image.open(results / "plots" / png).size[0] > 200
    assert planned_jobs(tmp_path) == {}  # complete: nothing to redo


def make_esc50_archive(tmp_path) -> Path:
    src = tmp_path / "src" / "ESC-50-master"
    rows = []
    for i in range(10):
        label, target = [("dog", 0), ("rooster", 1)][i % 2]
        name = f"{i % 5 + 1}-{100 + i}-A-{target}.wav"
        write_wav_file(src / "audio" / name, tone(200 + 700 * target, 0.5, 8000), 8000)
        rows.append(f"{name},{i % 5 + 1},{target},{label},True,{100 + i},A")
    (src / "meta").mkdir()
    (src / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n" + "\n".join(rows) + "\n"
    )
    archive = tmp_path / "ESC-50-master.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(src.rglob("*")):
            z.write(f, f.relative_to(tmp_path / "src"))
    return archive


def test_esc50_is_downloaded_when_absent_then_split_by_its_folds(tmp_path):
    archive = make_esc50_archive(tmp_path)
    write_config(
        tmp_path,
        {"dataset": {"kind": "esc50", "path": "data/ESC-50", "url": archive.as_uri()}, "spectrogram": TINY_SPECTROGRAM},
    )
    run_snakemake(tmp_path, "--cores", "2", "split")
    assert (tmp_path / "data" / "ESC-50" / "meta" / "esc50.csv").is_file()
    listing = pd.read_csv(tmp_path / "results" / "split.csv")
    assert len(listing) == 10 and set(listing.fold[listing.split == "test"]) == {5}


def test_esc50_download_failure_is_one_clear_sentence(tmp_path):
    write_config(
        tmp_path, {"dataset": {"kind": "esc50", "path": "data/ESC-50", "url": (tmp_path / "none.zip").as_uri()}}
    )
    proc = run_snakemake(tmp_path, "--cores", "1", "split", check=False)
    assert proc.returncode != 0
    assert "could not download ESC-50" in proc.stderr + proc.stdout and "set dataset.path" in proc.stderr + proc.stdout


def test_a_bad_config_value_stops_the_run_naming_the_key(tmp_path):
    proc = run_snakemake(tmp_path, "-n", "--config", "train={epochs: -1}", check=False)
    assert proc.returncode != 0
    assert "config key 'train.epochs': -1 is less than the minimum of 1" in proc.stdout + proc.stderr


@needs_shared_data
def test_esc10_plans_400_spectrogram_jobs_and_splits_by_its_folds(tmp_path):
    write_config(
        tmp_path,
        {"dataset": {"kind": "csv", "path": str(SHARED_DATA / "esc10" / "esc10.csv")}, "spectrogram": TINY_SPECTROGRAM},
    )
    assert planned_jobs(tmp_path)["spectrogram"] == 400
    run_snakemake(tmp_path, "--cores", "2", "split")
    listing = pd.read_csv(tmp_path / "results" / "split.csv")
    assert (listing.groupby("split").size() == pd.Series({"test": 80, "train": 240, "val": 80})).all()
    assert (listing.groupby("group")["split"].nunique() == 1).all()  # src_file never straddles splits


def test_flac_ogg_and_mp3_recordings_train_like_wav(tmp_path):
    """A folder dataset in four formats trains end to end; a FLAC clip's image is its WAV copy's, byte for byte."""
    import soundfile

    data = make_class_folders(tmp_path / "data", per_class=8, rate=16000)
    formats = {".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}
    for i, wav in enumerate(sorted(data.rglob("*.wav"))):
        suffix = [".wav", *formats][i % 4]
        if suffix != ".wav":
            samples, rate = soundfile.read(wav, dtype="float32")
            soundfile.write(wav.with_suffix(suffix), samples, rate, format=formats[suffix])
            if wav.stem == "low_1":  # a lossless copy kept beside its WAV
                wav.rename(wav.with_name("low_1_copy.wav"))
                continue
            wav.unlink()
    assert {p.suffix for p in data.rglob("*.*")} == {".wav", ".flac", ".ogg", ".mp3"}
    write_config(
        tmp_path,
        {
            "dataset": {"kind": "folder", "path": "data"},
            "spectrogram": TINY_SPECTROGRAM,
            "split": {"test_ratio": 0.25, "val_ratio": 0.25},
            "train": TINY_TRAIN,
        },
    )
    run_snakemake(tmp_path, "--cores", "2", "model")
    manifest = pd.read_csv(tmp_path / "results" / "manifest.csv", keep_default_na=False)
    assert len(manifest) == 25 and (manifest.problem == "").all(), manifest[manifest.problem != ""]
    assert {Path(a).suffix for a in manifest.audio} == {".wav", ".flac", ".ogg", ".mp3"}
    image = dict(zip(manifest.clip_id, manifest.image, strict=True))
    flac, copy = (tmp_path / image["low/low_1"]).read_bytes(), (tmp_path / image["low/low_1_copy"]).read_bytes()
    assert flac == copy
    assert (tmp_path / "results" / "model" / "weights" / "last.pt").is_file()


def test_script_jobs_run_this_checkouts_code_not_another_copy_of_seesound(tmp_path):
    """Script jobs (split, train, evaluate) run in a Python of their own. Another seesound ahead of this
    checkout's on that Python's path (an editable install of another clone) must not be the one they run."""
    decoy = tmp_path / "decoy" / "seesound"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise ImportError('the decoy seesound was imported')\n")
    make_class_folders(tmp_path / "data")
    write_config(
        tmp_path,
        {
            "dataset": {"kind": "folder", "path": "data"},
            "spectrogram": TINY_SPECTROGRAM,
            "split": TINY_SPLIT,
            "train": TINY_TRAIN,
        },
    )
    env = no_slurm_env()
    env["PYTHONPATH"] = str(decoy.parent)
    run_snakemake(tmp_path, "--cores", "2", "split", env=env)
    assert (tmp_path / "results" / "split.csv").is_file()
