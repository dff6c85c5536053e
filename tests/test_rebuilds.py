"""Incremental rebuilds: each kind of edit reruns exactly the jobs it affects, and nothing else."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import (
    REPO,
    TINY_TRAIN,
    edit_config,
    fingerprints,
    make_class_folders,
    planned_jobs,
    run_snakemake,
    snakemake_cmd,
    start_interruptible,
    tone,
    write_config,
    write_wav_file,
)
from seesound.render import render_clip_image
from seesound.spectrogram import SpectrogramSettings

PREDICTION = {"predict_recording", "gather_predictions"}
DOWNSTREAM_OF_MODEL = {"train", "install_model", "evaluate", "run_info", "all"} | PREDICTION


def images(work: Path) -> dict:
    return fingerprints(work / "results" / "spectrograms")


def test_1_after_a_complete_run_nothing_is_planned(work):
    assert planned_jobs(work) == {}


def test_1_the_same_config_with_its_keys_in_another_order_plans_nothing(work):
    def reversed_keys(value):
        return {k: reversed_keys(value[k]) for k in reversed(value)} if isinstance(value, dict) else value

    config = yaml.safe_load((work / "config.yaml").read_text())
    (work / "config.yaml").write_text(yaml.safe_dump(reversed_keys(config), sort_keys=False))
    assert planned_jobs(work) == {}


def test_2_changing_epochs_retrains_but_renders_and_splits_nothing(work):
    before = images(work)
    split_before = (work / "results" / "split.csv").read_bytes()
    edit_config(work, "train", **(TINY_TRAIN | {"epochs": 2}))
    assert set(planned_jobs(work)) == DOWNSTREAM_OF_MODEL
    run_snakemake(work, "--cores", "2", "model")
    assert images(work) == before and (work / "results" / "split.csv").read_bytes() == split_before
    assert len(pd.read_csv(work / "results" / "model" / "results.csv")) == 2


@pytest.mark.parametrize(
    "key, value", [("n_fft", 512), ("colormap", "viridis"), ("freq_scale", "linear"), ("image_size", 72)]
)
def test_3_changing_an_image_setting_rerenders_every_clip_and_everything_after(work, key, value):
    edit_config(work, "spectrogram", **{key: value})
    jobs = planned_jobs(work)
    assert jobs["spectrogram"] == 18
    assert {"split", "plot_examples"} | DOWNSTREAM_OF_MODEL <= set(jobs)
    if key == "colormap":  # run one of them through, to see every image really change
        before = images(work)
        run_snakemake(work, "--cores", "2", "spectrograms")
        after = images(work)
        assert after.keys() == before.keys() and all(after[k] != before[k] for k in before)


def test_3_changing_top_k_reruns_only_prediction(work):
    edit_config(work, "predict", top_k=2)
    assert set(planned_jobs(work)) == PREDICTION | {"run_info", "all"}
    run_snakemake(work, "--cores", "2")
    assert "label_2" in pd.read_csv(work / "results" / "predictions.csv") and "label_3" not in pd.read_csv(
        work / "results" / "predictions.csv"
    )


def test_3_choosing_the_best_epoch_instead_of_the_last_reevaluates_without_retraining(work):
    model_before = fingerprints(work / "results" / "model")
    edit_config(work, "train", checkpoint="best")
    assert set(planned_jobs(work)) == {"evaluate", "run_info", "all"} | PREDICTION
    run_snakemake(work, "--cores", "2", "evaluate")
    assert fingerprints(work / "results" / "model") == model_before
    assert json.loads((work / "results" / "metrics.json").read_text())["settings"]["train"]["checkpoint"] == "best"


def test_3_changing_the_time_rolls_reevaluates_and_repredicts_without_retraining(work):
    """Evaluation classifies its clips as prediction does: both follow predict.time_rolls, the model not."""
    model_before = fingerprints(work / "results" / "model")
    edit_config(work, "predict", time_rolls=2)
    assert set(planned_jobs(work)) == {"evaluate", "run_info", "all"} | PREDICTION
    run_snakemake(work, "--cores", "2")
    assert fingerprints(work / "results" / "model") == model_before
    assert json.loads((work / "results" / "metrics.json").read_text())["time_rolls"] == 2


def test_4_one_added_wav_renders_one_image_and_rewrites_no_other(work):
    before = images(work)
    write_wav_file(work / "data" / "low" / "low_new.wav", tone(310, 0.5, 8000), 8000)
    jobs = planned_jobs(work)
    assert jobs["spectrogram"] == 1 and jobs["split"] == 1 and set(jobs) >= DOWNSTREAM_OF_MODEL
    run_snakemake(work, "--cores", "2", "split")
    after = images(work)
    assert set(after) - set(before) == {"low/low_new.png"}
    assert all(after[k] == before[k] for k in before)
    assert "low/low_new" in set(pd.read_csv(work / "results" / "split.csv").clip_id)


def test_5_one_removed_wav_renders_nothing_and_leaves_the_split(work):
    (work / "data" / "noise" / "noise_3.wav").unlink()
    jobs = planned_jobs(work)
    assert "spectrogram" not in jobs and jobs["split"] == 1 and set(jobs) >= DOWNSTREAM_OF_MODEL
    run_snakemake(work, "--cores", "2", "split")
    listing = pd.read_csv(work / "results" / "split.csv")
    assert "noise/noise_3" not in set(listing.clip_id) and len(listing) == 17
    assert not list((work / "results" / "dataset").rglob("noise__noise_3.png"))


def test_6_a_changed_wav_rerenders_only_its_image(work):
    before = images(work)
    target = work / "data" / "high" / "high_2.wav"
    time.sleep(0.01)
    write_wav_file(target, tone(1234, 0.5, 8000), 8000)
    jobs = planned_jobs(work)
    assert jobs["spectrogram"] == 1 and set(jobs) >= DOWNSTREAM_OF_MODEL
    run_snakemake(work, "--cores", "2", "spectrograms")
    after = images(work)
    changed = {k for k in before if after[k] != before[k]}
    assert changed == {"high/high_2.png"}


OLD_TIME = (946684800, 946684800)  # 2000-01-01: a copy that kept its time (cp -p, rsync -a, an archive)


def test_6_a_wav_replaced_by_a_copy_that_kept_an_older_time_rerenders_its_image(work):
    """Snakemake's mtime trigger only asks whether an input is newer than the output: the image of the old
    recording stayed, and the training ran again on it. The file's content digest is a param of its job."""
    before = images(work)
    target = work / "data" / "high" / "high_2.wav"
    write_wav_file(target, tone(1234, 0.5, 8000), 8000)
    os.utime(target, OLD_TIME)
    jobs = planned_jobs(work)
    assert jobs["spectrogram"] == 1 and set(jobs) >= DOWNSTREAM_OF_MODEL
    run_snakemake(work, "--cores", "2", "spectrograms")
    after = images(work)
    assert {k for k in before if after[k] != before[k]} == {"high/high_2.png"}


def test_6_a_recording_to_classify_replaced_by_an_older_copy_is_classified_again(work):
    target = work / "new" / "query.wav"
    write_wav_file(target, tone(1500, 1.5, 8000), 8000)
    os.utime(target, OLD_TIME)
    assert planned_jobs(work) == {"predict_recording": 1, "gather_predictions": 1, "run_info": 1, "all": 1}


def test_6_a_starting_checkpoint_replaced_by_an_older_copy_retrains(work):
    start = work / "start.pt"
    shutil.copy(work / "results" / "model" / "weights" / "last.pt", start)
    edit_config(work, "train", model=str(start))
    run_snakemake(work, "--cores", "2", "model")
    assert "train" not in planned_jobs(work)
    shutil.copy(work / "results" / "model" / "weights" / "best.pt", start)  # another file ...
    start.write_bytes(start.read_bytes() + b"\0")  # ... whatever best.pt holds
    os.utime(start, OLD_TIME)
    assert "train" in planned_jobs(work)


def test_6_a_wav_touched_or_copied_with_its_bytes_unchanged_reruns_nothing(work):
    """A job's recordings are judged by their bytes (fileio.ContentDigests), not their times: a `touch`, a
    copy that did not keep times (`cp`, a fresh download of the same data) renders and trains nothing."""
    touched, copied = work / "data" / "high" / "high_2.wav", work / "data" / "low" / "low_1.wav"
    time.sleep(0.01)
    os.utime(touched)  # now, as `touch` does: newer than its image
    data = copied.read_bytes()
    copied.unlink()
    copied.write_bytes(data)  # another file (inode, times), the same bytes
    assert planned_jobs(work) == {}


def test_6_a_wav_rewritten_with_its_size_and_time_kept_rerenders_its_image(work):
    """Other bytes of the same length, the mtime set back to what it was: the ctime moved, so the file is
    read again and its digest tells the change."""
    target = work / "data" / "high" / "high_2.wav"
    st = target.stat()
    samples = bytearray(target.read_bytes())
    samples[-200:] = bytes(200)  # the last 100 samples silent
    target.write_bytes(bytes(samples))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    jobs = planned_jobs(work)
    assert jobs["spectrogram"] == 1 and set(jobs) >= DOWNSTREAM_OF_MODEL | {"manifest", "split"}


# SIGINT to the group: Ctrl-C at a terminal; SIGTERM to Snakemake alone: README's way to stop a background run
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "term", "kill-9"])
def test_7_a_run_killed_while_rendering_resumes_and_matches_an_uninterrupted_run(tmp_path, sig):
    make_class_folders(tmp_path / "data", per_class=100, seconds=2.0, rate=16000)
    spec = {"image_size": 64}
    write_config(tmp_path, {"dataset": {"kind": "folder", "path": "data"}, "spectrogram": spec})
    cmd = snakemake_cmd() + [
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path),
        f"--configfile={tmp_path / 'config.yaml'}",
        "--cores",
        "1",
        "spectrograms",
    ]
    proc = start_interruptible(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = tmp_path / "results" / "spectrograms"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.rglob("*.png"))) < 30:
        time.sleep(0.05)
    (os.kill if sig == signal.SIGTERM else os.killpg)(proc.pid, sig)
    proc.wait(timeout=60)
    written = len(list(out.rglob("*.png")))
    assert 30 <= written < 300, "the run should have been stopped in the middle of the stage"
    if sig == signal.SIGKILL:  # a killed Snakemake leaves its lock behind (documented in README)
        run_snakemake(tmp_path, "--unlock")
    run_snakemake(tmp_path, "--cores", "2", "--rerun-incomplete", "spectrograms")
    settings = SpectrogramSettings.from_config(spec)
    for wav in sorted((tmp_path / "data").rglob("*.wav")):
        image = out / wav.relative_to(tmp_path / "data").with_suffix(".png")
        assert image.read_bytes() == render_clip_image(wav, settings), image
    assert planned_jobs(tmp_path, "spectrograms") == {}


def test_8_a_run_from_scratch_agrees_with_an_earlier_one(finished_run, tmp_path):
    work = tmp_path / "again"
    work.mkdir()
    for name in ("data", "new", "config.yaml"):
        (shutil.copytree if (finished_run / name).is_dir() else shutil.copy)(finished_run / name, work / name)
    run_snakemake(work, "--cores", "2")
    a, b = finished_run, work
    assert images(a) == images(b)
    assert (a / "results" / "split.csv").read_bytes() == (b / "results" / "split.csv").read_bytes()
    ma, mb = (json.loads((w / "results" / "metrics.json").read_text()) for w in (a, b))
    for split in ("val", "test"):
        # CPU training is deterministic here; the documented tolerance allows for other BLAS builds
        assert abs(ma[split]["top1"] - mb[split]["top1"]) <= 0.05
    run_info = json.loads((b / "results" / "run.json").read_text())
    assert run_info["dataset"]["clips"] == 18 and run_info["versions"]["ultralytics"]
    assert {"split", "train", "evaluate"} <= set(run_info["durations_s"])
