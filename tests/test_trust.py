"""Trust (issue 14): no silent stale result, no data loss, no write outside results_dir.

Each test reproduces one observed scenario: a finished run, then the edit. It asserts the exit status,
the sentence, and that nothing outside results_dir was created, removed or changed (a snapshot of the
working directory, the user's data included, before and after).
"""

import json
import os
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
import yaml

from conftest import (
    REPO,
    TINY_SPECTROGRAM,
    TINY_SPLIT,
    TINY_TRAIN,
    edit_config,
    encode_wav,
    fingerprints,
    make_class_folders,
    no_slurm_env,
    planned_jobs,
    run_snakemake,
    snakemake_cmd,
    start_interruptible,
    tone,
    tree_state,
    write_config,
    write_wav_file,
)
from seesound.safety import ResultsLock

FINAL = [
    "metrics.json",
    "plots/confusion_matrix.png",
    "plots/training_curves.png",
    "plots/example_spectrograms.png",
    "plots/dataset.png",
    "run.json",
    "predictions.csv",
    "model/weights/last.pt",
    "model/weights/best.pt",
]


def refused(work, *args, expect):
    """Run snakemake expecting a refusal: non-zero exit, the sentence, nothing touched outside results_dir."""
    before = tree_state(work)
    proc = run_snakemake(work, *args, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert expect in out, out[-3000:]
    assert tree_state(work) == before
    return out


# --- 1. dataset changes reach the DAG --------------------------------------------------------------------
@pytest.mark.parametrize(
    "dataset, sentence, dry",
    [
        ("{kind: csv, path: nope.csv}", "dataset.path 'nope.csv' does not exist", False),
        ("{kind: csv, path: nope.csv}", "dataset.path 'nope.csv' does not exist", True),
        ("{kind: folder, path: dtaa}", "dataset.path 'dtaa' is not a folder", False),
    ],
)
def test_1_a_dataset_that_is_not_there_stops_every_run_whatever_results_dir_holds(work, dataset, sentence, dry):
    metrics = (work / "results" / "metrics.json").read_bytes()
    refused(work, "--cores", "2", *(["-n"] if dry else []), "--config", f"dataset={dataset}", expect=sentence)
    assert (work / "results" / "metrics.json").read_bytes() == metrics


def write_listing_csv(work, extra_rows=()):
    rows = [f"{p.relative_to(work / 'data')},{p.parent.name}" for p in sorted((work / "data").rglob("*.wav"))]
    (work / "labels.csv").write_text("filename,label\n" + "\n".join(rows + list(extra_rows)) + "\n")


def test_1_switching_to_a_csv_of_the_same_files_rebuilds_the_manifest_and_after(work):
    write_listing_csv(work)
    edit_config(work, "dataset", kind="csv", path="labels.csv", audio_dir="data")
    jobs = planned_jobs(work)
    assert {"manifest", "split", "train", "evaluate"} <= set(jobs) and "spectrogram" not in jobs


def use_listing_csv(work):
    """Switch the finished folder run to a CSV of the same files (same clip ids, labels and audio)."""
    write_listing_csv(work)
    edit_config(work, "dataset", kind="csv", path="labels.csv", audio_dir="data")


@pytest.mark.parametrize(
    "bad_row, sentence",
    [
        ("low/missing.wav,low", "row 21: audio file 'data/low/missing.wav' does not exist"),
        ("../outside.wav,low", "row 21: refusing path '../outside.wav'"),
        ("low/low_0.wav,low", "rows 8 and 21 both name 'low/low_0.wav'"),
    ],
)
def test_1_an_edited_csv_with_a_bad_row_stops_and_the_valid_new_row_is_not_silently_dropped(work, bad_row, sentence):
    use_listing_csv(work)
    write_wav_file(work / "data" / "low" / "low_new.wav", tone(310, 0.5, 8000), 8000)
    with open(work / "labels.csv", "a") as f:
        f.write("low/low_new.wav,low\n" + bad_row + "\n")  # rows 20 and 21
    refused(work, "--cores", "2", expect=sentence)
    refused(work, "-n", expect=sentence)
    (work / "labels.csv").write_text((work / "labels.csv").read_text().replace(bad_row + "\n", ""))
    jobs = planned_jobs(work)  # the bad row gone, the new one is used: its one image, then all after
    assert jobs["spectrogram"] == 1 and {"manifest", "split", "train"} <= set(jobs)


def test_1_relabelling_a_clip_in_the_csv_reruns_the_manifest_and_everything_after(work):
    use_listing_csv(work)
    run_snakemake(work, "--cores", "2", "split")
    text = (work / "labels.csv").read_text().replace("low/low_0.wav,low", "low/low_0.wav,high")
    (work / "labels.csv").write_text(text)
    jobs = planned_jobs(work)
    assert {"manifest", "split", "train", "evaluate"} <= set(jobs) and "spectrogram" not in jobs
    run_snakemake(work, "--cores", "2", "split")
    listing = pd.read_csv(work / "results" / "split.csv")
    assert listing.set_index("clip_id").loc["low/low_0", "label"] == "high"


# --- 2. results_dir can never destroy user data ---------------------------------------------------------
def test_2_a_results_dir_holding_a_folder_the_workflow_did_not_write_is_refused(work):
    for i in range(12):
        write_wav_file(work / "mine" / "dataset" / f"rec{i}.wav", tone(400, 0.1, 8000), 8000)
    refused(
        work, "--cores", "2", "--config", "results_dir=mine", expect="mine/dataset holds files seesound did not write"
    )
    assert len(list((work / "mine" / "dataset").glob("*.wav"))) == 12


@pytest.mark.parametrize(
    "results_dir, sentence",
    [  # every rule: tests/test_safety.py
        ("/", "is the file system's root"),
        (".", "is the working directory or a folder above it"),
        ("new/results", "lies inside 'new' (predict.inputs)"),
    ],
)
def test_2_a_results_dir_on_top_of_user_files_is_refused_at_start_up(work, results_dir, sentence):
    refused(work, "-n", "--config", f"results_dir={results_dir}", expect=sentence)


def test_2_a_results_dir_that_contains_the_data_is_refused(work):
    shutil.move(work / "data", work / "results" / "data")
    edit_config(work, "dataset", path="results/data")
    refused(work, "-n", expect="contains 'results/data' (dataset.path)")


def test_2_two_runs_never_write_one_results_dir_at_once(work):
    redo_a_plot = ("--cores", "2", "--forcerun", "plot_dataset", "results/plots/dataset.png")  # something to do
    plot = (work / "results" / "plots" / "dataset.png").read_bytes()
    lock = ResultsLock(work / "results")
    lock.acquire()  # another working directory's run, as far as the lock can tell
    try:
        out = refused(work, *redo_a_plot, expect="is in use by another seesound run")
        assert f"working directory {os.getcwd()}" in out
        assert (work / "results" / "plots" / "dataset.png").read_bytes() == plot
    finally:
        lock.release()
    run_snakemake(work, *redo_a_plot)  # free again: the lock dies with its holder


# --- 3. labels are class names, never paths -------------------------------------------------------------
@pytest.mark.parametrize(
    "label, sentence",
    [  # every rule: tests/test_names.py
        ("../../../../tmp/x", "row 2: the label '../../../../tmp/x' cannot be a class name"),
        ("dog/puppy", "row 2: the label 'dog/puppy' cannot be a class name: it contains a path separator"),
    ],
)
def test_3_a_label_that_is_a_path_is_refused_with_its_row(work, label, sentence):
    write_listing_csv(work)
    text = (work / "labels.csv").read_text().splitlines()
    text[1] = text[1].rsplit(",", 1)[0] + "," + label
    (work / "labels.csv").write_text("\n".join(text) + "\n")
    edit_config(work, "dataset", kind="csv", path="labels.csv", audio_dir="data")
    refused(work, "--cores", "2", expect=sentence)
    assert not (work.parent / "tmp").exists()  # where results/dataset/train/../../../../tmp/x would have been


def test_3_the_model_the_summary_and_the_metrics_list_the_same_classes(work):
    summary = json.loads((work / "results" / "split_summary.json").read_text())
    metrics = json.loads((work / "results" / "metrics.json").read_text())
    from seesound.model import class_names, load_classifier

    model = class_names(load_classifier(work / "results" / "model" / "weights" / "last.pt"))
    assert summary["classes"] == metrics["classes"] == model == ["high", "low", "noise"]


# --- 4. file and folder names Snakemake cannot carry ----------------------------------------------------
HOSTILE_NAMES = ["new\nline", "x" + "ab" * 30, "é" * 120, "tab\there"]  # hidden files (".x.wav") are not audio


def test_4_any_file_name_gets_a_safe_stable_clip_id_and_a_link_loop_is_walked_once(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=4)
    for i, name in enumerate(HOSTILE_NAMES):
        write_wav_file(data / "low" / f"{name}.wav", tone(320 + 10 * i, 0.5, 8000), 8000)
    os.symlink(".", data / "low" / "self")  # a loop: low/self/self/self/...
    os.symlink("gone.wav", data / "high" / "dangling.wav")
    write_wav_file(data / "high" / "a{b}c.wav", tone(900, 0.5, 8000), 8000)  # Snakemake cannot take it as input
    write_config(
        tmp_path,
        {
            "dataset": {"kind": "folder", "path": "data", "on_bad_audio": "skip"},
            "spectrogram": TINY_SPECTROGRAM,
            "split": TINY_SPLIT,
        },
    )
    before = tree_state(tmp_path)
    run_snakemake(tmp_path, "--cores", "2", "split")
    assert tree_state(tmp_path) == before
    manifest = pd.read_csv(tmp_path / "results" / "manifest.csv", keep_default_na=False)
    assert len(manifest) == 3 * 4 + len(HOSTILE_NAMES) + 2  # each real file once, the two bad ones included
    assert all("{" not in c and "\n" not in c and "\t" not in c for c in manifest.clip_id)
    listing = pd.read_csv(tmp_path / "results" / "split.csv", keep_default_na=False)
    assert len(listing) == 3 * 4 + len(HOSTILE_NAMES)
    assert len([c for c in listing.clip_id if "~" in c]) == len(HOSTILE_NAMES)
    assert set(listing.label) == {"low", "high", "noise"}
    bad = pd.read_csv(tmp_path / "results" / "bad_audio.csv").set_index("audio")
    assert "broken symbolic link" in bad.loc["data/high/dangling.wav", "reason"]
    assert "curly brace" in bad.loc["data/high/a{b}c.wav", "reason"]
    # stable: a second look plans nothing
    assert planned_jobs(tmp_path, "split") == {}


def test_4_under_fail_a_dangling_link_stops_the_run_at_start_up_naming_it(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=3)
    os.symlink("gone.wav", data / "high" / "dangling.wav")
    write_config(tmp_path, {"dataset": {"kind": "folder", "path": "data"}})
    refused(tmp_path, "-n", expect="data/high/dangling.wav: it is a broken symbolic link")


# --- 5. a failed model change keeps the trained model ---------------------------------------------------
def test_5_a_checkpoint_path_that_does_not_exist_is_refused_before_any_job(work):
    model = fingerprints(work / "results" / "model")
    refused(
        work,
        "--cores",
        "2",
        "--config",
        "train={model: missing/nothere.pt}",
        expect="config key 'train.model': 'missing/nothere.pt' is not a file",
    )
    assert fingerprints(work / "results" / "model") == model


def test_5_a_training_that_fails_leaves_the_model_and_its_metrics_in_place(work):
    from seesound.model import configure_ultralytics_offline

    configure_ultralytics_offline()
    from ultralytics import YOLO

    YOLO("yolov8n.yaml").save(work / "detect.pt")  # exists, loads, but is not a classifier: the train job fails
    installed = fingerprints(work / "results" / "model" / "weights")
    metrics = (work / "results" / "metrics.json").read_bytes()
    edit_config(work, "train", model="detect.pt")
    before = tree_state(work)
    proc = run_snakemake(work, "--cores", "2", check=False)
    assert proc.returncode != 0 and "is a 'detect' model" in proc.stdout + proc.stderr
    assert tree_state(work) == before
    assert fingerprints(work / "results" / "model" / "weights") == installed
    assert (work / "results" / "metrics.json").read_bytes() == metrics
    assert not (work / "results" / "model" / "trained" / "last.pt").exists()
    edit_config(work, "train", model="yolov8n-cls.yaml")  # back to the model that is installed: nothing to redo
    assert set(planned_jobs(work)) <= {
        "train",
        "install_model",
        "evaluate",
        "predict_recording",
        "gather_predictions",
        "run_info",
        "all",
    }


# --- 6. interruptions -------------------------------------------------------------------------------------
LONG_TRAIN = TINY_TRAIN | {"epochs": 24, "patience": 0}  # no early stop; long enough that a signal lands mid-training
SMALL_IMAGES = TINY_SPECTROGRAM | {"image_size": 32}


def interruption_config(work, resume=False):
    write_config(
        work,
        {
            "dataset": {"kind": "folder", "path": "data"},
            "spectrogram": SMALL_IMAGES,
            "split": TINY_SPLIT,
            "train": LONG_TRAIN | {"resume": resume},
        },
    )


@pytest.fixture(scope="module")
def split_state(tmp_path_factory):
    """Images and split made, no model yet (copied by each test)."""
    work = tmp_path_factory.mktemp("split") / "work"
    make_class_folders(work / "data", per_class=6)
    interruption_config(work)
    run_snakemake(work, "--cores", "2", "split")
    return work


@pytest.fixture(scope="module")
def uninterrupted(split_state, tmp_path_factory):
    work = tmp_path_factory.mktemp("uninterrupted") / "work"
    shutil.copytree(split_state, work, symlinks=True)
    run_snakemake(work, "--cores", "2")
    return work


def weights(work):
    """The installed model's tensors (the checkpoint file itself also holds dates and paths)."""
    import torch

    checkpoint = torch.load(work / "results" / "model" / "weights" / "last.pt", map_location="cpu", weights_only=False)
    return (checkpoint["ema"] or checkpoint["model"]).float().state_dict()  # a finished one keeps `model`


def epochs_in(results_csv) -> list[int]:
    return pd.read_csv(results_csv, skipinitialspace=True)["epoch"].astype(int).tolist()


def interrupt_training(work, sig, *args, after_epochs=3):
    """Start the run, send `sig` to Snakemake and its jobs once `after_epochs` epochs are saved."""
    started = time.time()
    log = open(work / "interrupted.log", "w")
    cmd = snakemake_cmd() + [
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(work),
        f"--configfile={work / 'config.yaml'}",
        "--cores",
        "2",
        *args,
    ]
    proc = start_interruptible(cmd, stdout=log, stderr=subprocess.STDOUT)
    progress = work / "results" / "model" / "checkpoints" / "results.csv"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        try:
            if progress.stat().st_mtime >= started and len(progress.read_text().splitlines()) > after_epochs:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, sig)  # the whole process group, as a terminal's Ctrl-C or a lost node would
    proc.wait(timeout=60)
    for _ in range(600):  # until the training process is gone too
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    log.close()
    from seesound.training import completed_epochs

    done = completed_epochs(progress.parent / "weights" / "last.pt")  # what a resume can continue from
    assert done is not None and after_epochs - 1 <= done < LONG_TRAIN["epochs"], done
    return done


def recover(work, sig, resume, target=()):
    """README's recovery: after a hard kill, --unlock and --rerun-incomplete; after Ctrl-C, just rerun."""
    edit_config(work, "train", resume=resume)
    if sig == signal.SIGKILL:
        run_snakemake(work, "--unlock")
        return run_snakemake(work, "--cores", "2", "--rerun-incomplete", *target)
    return run_snakemake(work, "--cores", "2", *target)


def assert_complete_and_consistent(work, *target):
    """Every output there, the model's table has every epoch once, and a plain rerun has nothing to do."""
    results = work / "results"
    names = ["model/weights/last.pt", "model/weights/best.pt"] + ([] if target else FINAL[:6])
    for name in names:
        assert (results / name).is_file(), name
    assert epochs_in(results / "model" / "results.csv") == list(range(1, LONG_TRAIN["epochs"] + 1))
    assert planned_jobs(work, *target) == {}


# One interruption per signal, then README's recovery twice from copies of the interrupted state: with
# resume (it continues where the checkpoint ends) and without (it starts over and ends exactly where an
# uninterrupted run does). The training is interrupted in `snakemake model` (train and install): what
# follows it is the same with or without an interruption, and leaving it out keeps these tests affordable.
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_6_an_interrupted_training_is_recovered_with_and_without_resume(split_state, uninterrupted, tmp_path, sig):
    import torch

    resumed, restarted = tmp_path / "resumed", tmp_path / "restarted"
    shutil.copytree(split_state, resumed, symlinks=True)
    done = interrupt_training(resumed, sig, "model")
    shutil.copytree(resumed, restarted, symlinks=True)

    recover(resumed, sig, resume=True, target=["model"])
    log = (resumed / "results" / "logs" / "train.log").read_text()
    assert f"resuming from epoch {done + 1} of {LONG_TRAIN['epochs']}" in log
    assert_complete_and_consistent(resumed, "model")

    recover(restarted, sig, resume=False, target=["model"])
    assert "resuming" not in (restarted / "results" / "logs" / "train.log").read_text()
    assert_complete_and_consistent(restarted, "model")
    a, b = weights(restarted), weights(uninterrupted)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_6_ctrl_c_of_a_forced_retrain_leaves_the_installed_model_and_its_metrics(uninterrupted, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(uninterrupted, work, symlinks=True)
    installed = fingerprints(work / "results" / "model" / "weights")
    metrics = (work / "results" / "metrics.json").read_bytes()
    interrupt_training(work, signal.SIGINT, "--forcerun", "train")
    assert fingerprints(work / "results" / "model" / "weights") == installed
    assert (work / "results" / "metrics.json").read_bytes() == metrics
    # a plain rerun may call this complete only because every output is really there
    assert_complete_and_consistent(work)


# --- 7. every per-clip failure is bad audio -------------------------------------------------------------
def wav_with_block_align(samples, rate, block_align):
    data = bytearray(encode_wav(samples, rate))
    data[32:34] = block_align.to_bytes(2, "little")  # fmt chunk: bytes 32-33 hold the block size
    data[22:24] = (3).to_bytes(2, "little")  # 3 channels cannot share a 2-byte block
    return bytes(data)


def test_7_skip_lists_every_bad_clip_and_names_a_class_that_loses_all_its_clips(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=5)
    (data / "low" / "odd_block.wav").write_bytes(wav_with_block_align(tone(300, 0.5, 8000), 8000, 2))
    os.symlink("gone.wav", data / "low" / "dangling.wav")
    for i in range(3):
        (data / "ghost" / f"g{i}.wav").parent.mkdir(exist_ok=True)
        (data / "ghost" / f"g{i}.wav").write_text("not audio")
    write_config(
        tmp_path,
        {
            "dataset": {"kind": "folder", "path": "data", "on_bad_audio": "skip"},
            "spectrogram": TINY_SPECTROGRAM,
            "split": TINY_SPLIT,
            "train": TINY_TRAIN,
        },
    )
    before = tree_state(tmp_path)
    run_snakemake(tmp_path, "--cores", "2", "model")
    assert tree_state(tmp_path) == before
    bad = pd.read_csv(tmp_path / "results" / "bad_audio.csv").set_index("clip_id")
    assert set(bad.index) == {"low/odd_block", "low/dangling", "ghost/g0", "ghost/g1", "ghost/g2"}
    assert "inconsistent WAV header" in bad.loc["low/odd_block", "reason"]
    assert "broken symbolic link" in bad.loc["low/dangling", "reason"]
    summary = json.loads((tmp_path / "results" / "split_summary.json").read_text())
    assert summary["classes_left_out"] == [
        {"class": "ghost", "reason": "every clip of the class was skipped as bad audio"}
    ]
    assert "class 'ghost' is left out of the model" in (tmp_path / "results" / "logs" / "split.log").read_text()
    from seesound.model import class_names, load_classifier

    model = class_names(load_classifier(tmp_path / "results" / "model" / "weights" / "last.pt"))
    assert model == summary["classes"] == ["high", "low", "noise"]


# --- 8. config values checked at start-up ---------------------------------------------------------------
@pytest.mark.parametrize(
    "override, sentence",
    [  # every check: tests/test_config.py
        ("spectrogram={colormap: jett}", "config key 'spectrogram.colormap': 'jett' is not a matplotlib colormap"),
        (
            "spectrogram={sample_rate: 8000, fmin: 5000}",
            "config key 'spectrogram.fmin': 5000 Hz is not below the Nyquist",
        ),
    ],
)
def test_8_bad_config_values_are_refused_at_start_up_naming_the_key(work, override, sentence):
    refused(work, "--cores", "2", "--config", override, expect=sentence)


def test_8_a_clip_at_another_rate_is_resampled_to_the_analysis_rate_not_refused(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=4, rate=16000)
    write_wav_file(data / "low" / "phone.wav", tone(300, 0.5, 8000), 8000)  # a phone's 8 kHz among 16 kHz clips
    write_config(
        tmp_path, {"dataset": {"kind": "folder", "path": "data"}, "spectrogram": TINY_SPECTROGRAM, "split": TINY_SPLIT}
    )
    run_snakemake(tmp_path, "--cores", "2", "split")
    assert pd.read_csv(tmp_path / "results" / "bad_audio.csv").empty
    summary = json.loads((tmp_path / "results" / "split_summary.json").read_text())
    assert summary["sample_rates"] == {"8000": 1, "16000": 12}  # as recorded; every image is made at 16 kHz
    from seesound.render import load_clip
    from seesound.spectrogram import SpectrogramSettings

    assert len(load_clip(data / "low" / "phone.wav", SpectrogramSettings.from_config(TINY_SPECTROGRAM))) == 8000


@pytest.mark.parametrize(
    "content, sentence",
    [  # every case: tests/test_dataset.py
        (b"filename,label\nlow/low_0.wav,caf\xe9\n", "labels.csv: not UTF-8 text (byte 0xe9"),
    ],
)
def test_8_an_unreadable_csv_is_one_sentence(work, content, sentence):
    (work / "labels.csv").write_bytes(content)
    edit_config(work, "dataset", kind="csv", path="labels.csv", audio_dir="data")
    refused(work, "-n", expect=sentence)


# --- also -------------------------------------------------------------------------------------------------
def test_outputs_honour_the_umask_and_logs_live_in_results_dir(tmp_path):
    make_class_folders(tmp_path / "data", per_class=6)
    write_config(
        tmp_path, {"dataset": {"kind": "folder", "path": "data"}, "spectrogram": TINY_SPECTROGRAM, "split": TINY_SPLIT}
    )
    proc = subprocess.run(
        [
            "sh",
            "-c",
            'umask 002 && exec "$@"',
            "sh",
            *snakemake_cmd(),
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            f"--configfile={tmp_path / 'config.yaml'}",
            "--cores",
            "2",
            "split",
        ],
        capture_output=True,
        text=True,
        env=no_slurm_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = tmp_path / "results"
    for path in [results / "manifest.csv", results / "split.csv", next((results / "spectrograms").rglob("*.png"))]:
        assert path.stat().st_mode & 0o777 == 0o664, path
    assert (results / "logs" / "split.log").is_file() and not (tmp_path / "logs").exists()
    assert not (results / "logs" / "spectrogram").exists()  # per-clip logs only for clips that failed


def test_every_experiment_config_has_its_own_results_dir():
    dirs = []
    for path in sorted((REPO / "experiments").glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        if "settings" not in config:
            dirs.append(config.get("results_dir"))
    assert all(dirs) and len(set(dirs)) == len(dirs), dirs


def test_results_are_unchanged_by_a_rerun_with_nothing_to_do(work):
    """`work` is a copy of a finished run: its first rerun adds the copied files' digests to the cache
    (which is keyed by path and inode); a second changes not even that."""

    def results(cache=False):
        kept = fingerprints(work / "results")
        return {k: v for k, v in kept.items() if "logs/" not in k and (cache or k != ".seesound.digests.json")}

    before = results()
    run_snakemake(work, "--cores", "2")
    assert results() == before
    with_cache = results(cache=True)
    run_snakemake(work, "--cores", "2")
    assert results(cache=True) == with_cache


def test_6_with_resume_a_forced_retrain_of_a_finished_training_reuses_its_weights(uninterrupted, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(uninterrupted, work, symlinks=True)
    before = weights(work)
    edit_config(work, "train", resume=True)
    run_snakemake(work, "--cores", "2", "--forcerun", "train", "model")
    log = (work / "results" / "logs" / "train.log").read_text()
    assert "a training with these settings and this split already finished" in log.split("[seesound] finished in")[-2]
    after = weights(work)
    assert all(before[k].equal(after[k]) for k in before)


def test_a_results_dir_on_the_data_is_refused_before_anything_is_written_there(work):
    """The digest of a starting checkpoint is computed while the config is read, before the results_dir
    check: the digest cache must still never be written into a refused results_dir (here, the data)."""
    start = work / "start.pt"
    shutil.copy(work / "results" / "model" / "weights" / "last.pt", start)
    before = tree_state(work)
    cmd = snakemake_cmd() + ["-s", str(REPO / "Snakefile"), f"--configfile={work / 'config.yaml'}"]
    # started from the working directory, as users do (the cache's relative path resolves there at exit)
    proc = subprocess.run(
        [*cmd, "--cores", "2", "--config", "results_dir=data", f"train={{model: {start}}}"],
        cwd=work,
        capture_output=True,
        text=True,
        env=no_slurm_env(),
    )
    assert proc.returncode != 0 and "the workflow writes and replaces files in results_dir" in proc.stderr
    assert tree_state(work) == before and not (work / "data" / ".seesound.digests.json").exists()
