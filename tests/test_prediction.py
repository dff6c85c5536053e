"""Prediction (issue 15): the model carries its preprocessing; recordings of any rate, format and length;
decisions, detections and the tables bioacoustics users load; one job per recording."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile

from conftest import (
    SHARED_DATA,
    TINY_SPECTROGRAM,
    planned_jobs,
    run_snakemake,
    tone,
    tree_state,
    write_config,
    write_wav_file,
)
from seesound.audio import read_audio, resample
from seesound.augment import IMAGE_AUGMENTATIONS
from seesound.model import Classifier, ModelCard, read_card, usable_time_rolls, write_untrained_model
from seesound.prediction import (
    NO_LABEL,
    PredictSettings,
    analysis_windows,
    decide,
    detections,
    label_summary,
    predict_recording,
    raven_selection_table,
    rendered_windows,
    window_starts,
)
from seesound.render import load_clip
from seesound.spectrogram import SpectrogramSettings, render_rgb

RATE = 16000


# --- units -------------------------------------------------------------------------------------------------
def test_windows_cover_the_file_and_the_last_one_ends_at_its_end():
    assert window_starts(100, 40, 20) == [0, 20, 40, 60]
    assert window_starts(101, 40, 20) == [0, 20, 40, 60, 61]
    assert window_starts(30, 40, 20) == [0]


@pytest.mark.parametrize("file_rate", [16000, 44100, 8000])
def test_streamed_windows_equal_the_whole_recording_resampled_at_once(tmp_path, file_rate):
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(int(7.3 * file_rate))).astype(np.float32)
    path = tmp_path / "long.flac"
    soundfile.write(path, x, file_rate, subtype="PCM_24")
    whole = resample(read_audio(path)[0], file_rate, RATE)
    got = list(analysis_windows(path, RATE, window_s=1.0, hop_s=0.5, block_frames=5000))  # many small blocks
    assert [s for s, _ in got] == window_starts(len(whole), RATE, RATE // 2)
    for start, w in got[:-1]:
        reference = whole[start : start + RATE]
        assert len(w) == RATE and np.abs(w - reference[: len(w)]).max() < 2e-3  # soxr's stream == one pass


def test_a_confident_window_gets_its_label_and_silence_or_doubt_gets_none():
    probs = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.8], [0.95, 0.05]])
    settings = PredictSettings(min_confidence=0.6, class_thresholds={"b": 0.85})
    labels = decide(probs, ["a", "b"], settings, levels_dbfs=[-20, -20, -20, -200])
    assert list(labels) == ["a", NO_LABEL, NO_LABEL, NO_LABEL]  # doubt; b below its own 0.85; silence


def test_consecutive_windows_with_one_label_are_one_detection():
    windows = pd.DataFrame({"start_s": [0, 1, 2, 3, 4, 5.0], "end_s": [2, 3, 4, 5, 6, 7.0]})
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4]])
    labels = np.array([NO_LABEL, "a", "a", "b", "b", NO_LABEL], dtype=object)
    found = detections(windows, labels, probs, ["a", "b"])
    assert found[["start_s", "end_s", "label", "windows"]].values.tolist() == [[1, 4, "a", 2], [3, 6, "b", 2]]
    assert found["max_confidence"].tolist() == [0.9, 0.8] and found["mean_confidence"].round(3).tolist() == [0.85, 0.75]
    summary = label_summary(found)
    assert summary[0]["label"] in ("a", "b") and summary[0]["detected_s"] == 3.0 and summary[0]["detections"] == 1
    table = raven_selection_table(found, 0.0, 8000.0).splitlines()
    assert table[0].split("\t")[:7] == [
        "Selection",
        "View",
        "Channel",
        "Begin Time (s)",
        "End Time (s)",
        "Low Freq (Hz)",
        "High Freq (Hz)",
    ]
    assert table[1].split("\t")[:8] == ["1", "Spectrogram 1", "1", "1.000", "4.000", "0.0", "8000.0", "a"]


# --- a small trained model (session-wide) ------------------------------------------------------------------
SPEC = TINY_SPECTROGRAM | {"image_size": 48}
NO_AUDIO_AUGMENT = dict.fromkeys(IMAGE_AUGMENTATIONS, 0) | {"label_smoothing": 0.0}


@pytest.fixture(scope="session")
def tone_noise_model(tmp_path_factory):
    """A model trained until it tells a steady tone from noise, on 0.5 s clips at 16 kHz."""
    work = tmp_path_factory.mktemp("tone_noise")
    rng = np.random.default_rng(0)
    for i in range(24):
        write_wav_file(work / "data" / "tone" / f"t{i}.wav", tone(500 + 60 * i, 0.5, RATE, 0.1 + 0.03 * i), RATE)
        write_wav_file(work / "data" / "noise" / f"n{i}.wav", (0.05 + 0.015 * i) * rng.standard_normal(RATE // 2), RATE)
    write_config(
        work,
        {
            "dataset": {"kind": "folder", "path": "data"},
            "spectrogram": SPEC,
            "split": {"test_ratio": 0.2, "val_ratio": 0.2},
            "train": {
                "epochs": 15,
                "batch": 8,
                "workers": 0,
                "patience": 0,
                "export": True,
                "augment": NO_AUDIO_AUGMENT,
            },
        },
    )
    run_snakemake(work, "--cores", "2", "model")
    return work


def test_the_model_file_carries_everything_prediction_needs(tone_noise_model):
    card = read_card(tone_noise_model / "results" / "model" / "weights" / "last.pt")
    assert card.classes == ["noise", "tone"] and card.window_s == 0.5
    assert card.imgsz == 64  # 48 px images, seen at 64 px: Ultralytics trains at a multiple of 32
    assert card.spectrogram["sample_rate"] == RATE and card.spectrogram["n_mels"] == 32
    assert card.time_shift == 0.0  # trained without rolling its clips: never given rolled windows
    assert read_card(tone_noise_model / "results" / "model" / "weights" / "last.onnx") == card
    on_disk = json.loads((tone_noise_model / "results" / "model" / "model_card.json").read_text())
    assert ModelCard.from_dict(on_disk) == card


def test_the_classifier_agrees_with_ultralytics_own_predictor(tone_noise_model):
    from seesound.model import load_classifier

    weights = tone_noise_model / "results" / "model" / "weights" / "last.pt"
    images = [
        render_rgb(tone(500 + 300 * i, 0.5, RATE).astype(np.float32), SpectrogramSettings(**SPEC)) for i in range(4)
    ]
    ours = Classifier(weights).probabilities(images)
    yolo = load_classifier(weights)
    theirs = np.stack(
        [r.probs.data.cpu().numpy() for r in yolo.predict([im[..., ::-1] for im in images], imgsz=64, verbose=False)]
    )
    np.testing.assert_allclose(ours, theirs, atol=2e-4)
    onnx = Classifier(tone_noise_model / "results" / "model" / "weights" / "last.onnx").probabilities(images)
    np.testing.assert_allclose(onnx, ours, atol=2e-4)


def known_events_recording(path, rate):
    """2 s of digital silence, 2 s of a 700 Hz tone, 2 s of noise."""
    rng = np.random.default_rng(5)
    x = np.concatenate([np.zeros(2 * RATE), tone(700, 2.0, RATE, 0.4), 0.3 * rng.standard_normal(2 * RATE)])
    soundfile.write(path, resample(x.astype(np.float32), RATE, rate), rate)
    return path


@pytest.mark.parametrize("rate, ext", [(16000, "wav"), (44100, "flac"), (22050, "ogg"), (48000, "mp3")])
def test_a_recording_with_known_events_gives_them_at_the_right_times(tone_noise_model, tmp_path, rate, ext):
    classifier = Classifier(tone_noise_model / "results" / "model" / "weights" / "last.pt")
    path = known_events_recording(tmp_path / f"field.{ext}", rate)
    outputs = {k: tmp_path / f"out.{k}" for k in ("windows", "selections", "labels", "summary")}
    summary = predict_recording(classifier, path, "field", outputs, PredictSettings(hop_s=0.25, min_confidence=0.8))
    assert abs(summary["duration_s"] - 6.0) < 0.06
    found = pd.DataFrame(summary["detections"])
    assert found["label"].tolist() == ["tone", "noise"], found  # nothing in the silence
    tone_event, noise_event = found.iloc[0], found.iloc[1]
    assert abs(tone_event.start_s - 2.0) <= 0.5 and abs(tone_event.end_s - 4.0) <= 0.5
    assert abs(noise_event.start_s - 4.0) <= 0.5 and abs(noise_event.end_s - 6.0) <= 0.1
    raven = pd.read_csv(outputs["selections"], sep="\t")
    assert raven["Label"].tolist() == ["tone", "noise"]
    assert raven["Begin Time (s)"].tolist() == pytest.approx(found["start_s"].tolist(), abs=1e-3)
    assert (raven["High Freq (Hz)"] == 8000).all() and (raven["View"] == "Spectrogram 1").all()
    assert len(outputs["labels"].read_text().splitlines()) == 2  # the Audacity label track
    windows = pd.read_csv(outputs["windows"], keep_default_na=False)
    assert (windows.loc[windows.end_s <= 2.0, "label"] == "").all()  # digital silence has no label


def test_the_same_clips_at_another_rate_get_the_same_labels(tone_noise_model, tmp_path):
    """Issue 15 acceptance 1, on synthetic clips: made at 16 kHz, resampled to 44.1 kHz in the test."""
    classifier = Classifier(tone_noise_model / "results" / "model" / "weights" / "last.pt")
    spec = classifier.card.settings()
    rng = np.random.default_rng(11)
    labels, at_16k, at_44k = [], [], []
    for i in range(40):
        label = ["tone", "noise"][i % 2]
        x = (
            tone(rng.uniform(400, 2000), 0.5, RATE, rng.uniform(0.1, 0.6))
            if label == "tone"
            else rng.uniform(0.05, 0.4) * rng.standard_normal(RATE // 2)
        )
        a = write_wav_file(tmp_path / f"{i}_16k.wav", x, RATE)
        b = write_wav_file(tmp_path / f"{i}_44k.wav", resample(x.astype(np.float32), RATE, 44100), 44100)
        labels.append(label)
        at_16k.append(render_rgb(load_clip(a, spec), spec))
        at_44k.append(render_rgb(load_clip(b, spec), spec))
    p16, p44 = (classifier.probabilities(images).argmax(axis=1) for images in (at_16k, at_44k))
    agreement = float(np.mean(p16 == p44))
    truth = np.array([classifier.classes.index(c) for c in labels])
    print(
        f"synthetic 16 kHz vs 44.1 kHz: same label on {100 * agreement:.1f} % of {len(labels)} clips; top-1 "
        f"{100 * np.mean(p16 == truth):.1f} % vs {100 * np.mean(p44 == truth):.1f} %"
    )
    assert agreement >= 0.95
    assert abs(np.mean(p16 == truth) - np.mean(p44 == truth)) <= 0.02


@pytest.mark.skipif(
    not (SHARED_DATA / "esc10-44k" / "esc10-44k.csv").is_file(), reason="../shared/data/esc10-44k is not present"
)
def test_esc10_at_44k_and_its_16k_copies_get_the_same_labels(tmp_path):
    """Issue 15 acceptance 1 on real recordings: a model trained on ESC-10's 16 kHz copies (folds 1-3) labels the
    83 clips of esc10-44k (44.1 kHz originals) as it labels their 16 kHz copies."""
    meta = pd.read_csv(SHARED_DATA / "esc10" / "esc10.csv")
    train = meta[meta.fold <= 4]
    (tmp_path / "train.csv").write_text(train[["filename", "category", "fold", "src_file"]].to_csv(index=False))
    write_config(
        tmp_path,
        {
            "dataset": {"kind": "csv", "path": "train.csv", "audio_dir": str(SHARED_DATA / "esc10" / "audio")},
            "spectrogram": {"image_size": 96},
            "split": {"test_folds": [4], "val_folds": [3]},
            "train": {"epochs": 15, "batch": 32, "workers": 0, "patience": 0},
        },
    )
    run_snakemake(tmp_path, "--cores", "2", "model")
    classifier = Classifier(tmp_path / "results" / "model" / "weights" / "last.pt")
    spec = classifier.card.settings()
    clips = pd.read_csv(SHARED_DATA / "esc10-44k" / "esc10-44k.csv")
    high = [render_rgb(load_clip(SHARED_DATA / "esc10-44k" / "audio" / f, spec), spec) for f in clips.filename]
    low = [render_rgb(load_clip(SHARED_DATA / "esc10" / "audio" / f, spec), spec) for f in clips.filename]
    p44, p16 = (classifier.probabilities(images).argmax(axis=1) for images in (high, low))
    truth = np.array([classifier.classes.index(c) for c in clips.category])
    agreement = float(np.mean(p44 == p16))
    print(
        f"ESC-10 44.1 kHz vs 16 kHz copies: same label on {100 * agreement:.1f} % of {len(clips)} clips; top-1 "
        f"{100 * np.mean(p16 == truth):.1f} % (16 kHz) vs {100 * np.mean(p44 == truth):.1f} % (44.1 kHz)"
    )
    assert agreement >= 0.95
    assert abs(np.mean(p16 == truth) - np.mean(p44 == truth)) <= 0.02


# --- the workflow: one job per recording ----------------------------------------------------------------------
@pytest.fixture
def predicting(tone_noise_model, tmp_path):
    """A copy of the trained run with a folder of recordings to classify (inputs given in config.yaml)."""
    work = tmp_path / "work"
    shutil.copytree(tone_noise_model, work, symlinks=True)
    rng = np.random.default_rng(1)
    write_wav_file(work / "field" / "x_y" / "z.wav", tone(800, 1.5, RATE), RATE)
    write_wav_file(work / "field" / "x" / "y_z.wav", 0.2 * rng.standard_normal(RATE), RATE)
    soundfile.write(work / "field" / "night.flac", 0.2 * rng.standard_normal(3 * 44100).astype(np.float32), 44100)
    (work / "field" / "notes.txt").write_text("site 3, 2026-11-30")
    config = json.loads(json.dumps(__import__("yaml").safe_load((work / "config.yaml").read_text())))
    config["predict"] = {"inputs": ["field"], "hop_s": 0.25}
    write_config(work, config)
    return work


def test_each_recording_is_one_job_with_its_own_tables_and_the_gather_combines_them(predicting):
    proc = run_snakemake(predicting, "--cores", "2", "predict")
    assert "1 file(s) in field are not audio seesound reads" in proc.stdout + proc.stderr  # notes.txt, named
    results = predicting / "results"
    for rid in ("field/x_y/z.wav", "field/x/y_z.wav", "field/night.flac"):  # no collision between the first two
        for suffix in (".csv", ".selections.txt", ".labels.txt", ".json"):
            assert (results / "predictions" / f"{rid}{suffix}").is_file(), rid + suffix
    table = pd.read_csv(results / "predictions.csv")
    assert sorted(table.file.unique()) == ["field/night.flac", "field/x/y_z.wav", "field/x_y/z.wav"]
    summary = pd.read_csv(results / "tables" / "predictions_summary.csv", keep_default_na=False)
    assert set(summary.recording) == {"field/x_y/z.wav", "field/x/y_z.wav", "field/night.flac"}
    assert "tone" in set(summary.label[summary.recording == "field/x_y/z.wav"])
    assert sorted(p.name for p in (results / "plots" / "timelines").glob("*.png")) == [
        "field__night.flac.png",
        "field__x__y_z.wav.png",
        "field__x_y__z.wav.png",
    ]

    # one more recording: one prediction job, then the gather
    write_wav_file(predicting / "field" / "later.wav", tone(900, 1.0, RATE), RATE)
    jobs = planned_jobs(predicting, "predict")
    assert jobs == {"predict_recording": 1, "gather_predictions": 1, "predict": 1}
    # one removed: no prediction job, the gather drops it
    (predicting / "field" / "later.wav").unlink()
    (predicting / "field" / "night.flac").unlink()
    assert planned_jobs(predicting, "predict") == {"gather_predictions": 1, "predict": 1}
    run_snakemake(predicting, "--cores", "2", "predict")
    assert "field/night.flac" not in set(pd.read_csv(results / "predictions.csv").file)


def test_recordings_per_job_puts_several_recordings_in_one_job_with_the_same_tables(predicting):
    config = __import__("yaml").safe_load((predicting / "config.yaml").read_text())
    config["predict"]["recordings_per_job"] = 2
    write_config(predicting, config)
    jobs = planned_jobs(predicting, "predict")  # 3 recordings hashed into 2 batches: 1 or 2 of them used
    assert 1 <= jobs.pop("predict_batch") <= 2 and jobs == {"gather_predictions": 1, "predict": 1}
    run_snakemake(predicting, "--cores", "2", "predict")
    tables = sorted(
        p.relative_to(predicting / "results" / "predictions")
        for p in (predicting / "results" / "predictions").rglob("*.json")
    )
    assert len(tables) == 3 and all(str(t).startswith("batch") for t in tables)
    assert len(pd.read_csv(predicting / "results" / "predictions.csv").file.unique()) == 3


def test_a_bad_recording_fails_alone(predicting):
    (predicting / "field" / "broken.wav").write_text("not audio at all")
    proc = run_snakemake(predicting, "--cores", "2", "--keep-going", "predict", check=False)
    assert proc.returncode != 0 and "field/broken.wav: not a WAV file" in proc.stdout + proc.stderr
    assert (predicting / "results" / "predictions" / "field" / "night.flac.json").is_file()  # the others finished
    config = __import__("yaml").safe_load((predicting / "config.yaml").read_text())
    config["dataset"]["on_bad_audio"] = "skip"
    write_config(predicting, config)
    run_snakemake(predicting, "--cores", "2", "predict")
    bad = pd.read_csv(predicting / "results" / "tables" / "bad_recordings.csv")
    assert bad.file.tolist() == ["field/broken.wav"] and "not a WAV file" in bad.reason[0]
    assert len(pd.read_csv(predicting / "results" / "predictions.csv").file.unique()) == 3


def test_predictions_are_remembered_and_predict_without_inputs_never_deletes_them(predicting):
    run_snakemake(predicting, "--cores", "2")
    config = __import__("yaml").safe_load((predicting / "config.yaml").read_text())
    config["predict"].pop("inputs")
    write_config(predicting, config)
    before = (predicting / "results" / "predictions.csv").read_bytes()
    assert planned_jobs(predicting) == {}  # the last run's recordings are what later runs keep up to date
    run_snakemake(predicting, "--report", "report.html")
    assert "predictions table" in (predicting / "report.html").read_text(encoding="utf-8")
    (predicting / "results" / "prediction_inputs.csv").unlink()  # nothing on record any more
    state = tree_state(predicting, skip=(".snakemake",))
    proc = run_snakemake(predicting, "--cores", "2", "predict", check=False)
    assert proc.returncode != 0 and "predict.inputs is empty and no earlier prediction run is on record" in proc.stderr
    assert tree_state(predicting, skip=(".snakemake",)) == state
    assert (predicting / "results" / "predictions.csv").read_bytes() == before


def test_any_model_file_predicts_without_training(tone_noise_model, tmp_path):
    write_wav_file(tmp_path / "inbox" / "a.wav", tone(700, 1.0, RATE), RATE)
    model = shutil.copy(tone_noise_model / "results" / "model" / "weights" / "last.onnx", tmp_path / "portable.onnx")
    write_config(tmp_path, {"predict": {"model": "portable.onnx", "inputs": ["inbox"]}})  # config otherwise default
    assert planned_jobs(tmp_path, "predict") == {"predict_recording": 1, "gather_predictions": 1, "predict": 1}
    run_snakemake(tmp_path, "--cores", "2", "predict")
    found = pd.read_csv(tmp_path / "results" / "detections.csv")
    assert found.label.tolist() == ["tone"] and Classifier(model).card.imgsz == 64


def test_an_untrained_model_file_has_the_format_of_a_real_one(tmp_path):
    card = ModelCard(["a", "b"], SpectrogramSettings(image_size=32).as_dict(), 1.0, 32, 2, "test")
    write_untrained_model(tmp_path / "m.pt", card)
    assert Classifier(tmp_path / "m.pt").probabilities([np.zeros((32, 32, 3), np.uint8)]).shape == (1, 2)


@pytest.mark.parametrize(
    "requested, time_shift, used",
    [(4, 0.5, 4), (4, 0.49, 1), (3, 1 / 3, 3), (2, 0.5, 2), (8, 0.5, 8), (4, 0.0, 1), (1, 0.5, 1)],
)
def test_time_rolls_are_used_only_when_the_model_learnt_every_one_of_them(requested, time_shift, used):
    assert usable_time_rolls(requested, time_shift) == used


def test_time_rolls_average_the_window_rolled_round_in_time(tmp_path):
    card = ModelCard(["left", "right"], SpectrogramSettings(image_size=32).as_dict(), 1.0, 32, 2, "test", {}, 0.5)
    write_untrained_model(tmp_path / "m.pt", card)
    plain, rolled = Classifier(tmp_path / "m.pt"), Classifier(tmp_path / "m.pt", time_rolls=4)
    assert (plain.time_rolls, rolled.time_rolls) == (1, 4)

    def where_the_sound_is(batch):  # a stand-in network: how much of the image's energy is in each half
        halves = np.stack([batch[:, :, :16].sum(axis=(1, 2, 3)), batch[:, :, 16:].sum(axis=(1, 2, 3))], axis=1)
        return halves / halves.sum(axis=1, keepdims=True)

    plain._run = rolled._run = where_the_sound_is
    early = np.zeros((32, 32, 3), np.uint8)
    early[:, :8] = 255  # a sound in the first quarter of the window
    np.testing.assert_allclose(plain.probabilities([early]), [[1.0, 0.0]])
    # rolled by 0, 8, 16 and 24 columns it lies in the left, left, right and right half
    np.testing.assert_allclose(rolled.probabilities([early, early[:, ::-1]], batch=1), [[0.5, 0.5], [0.5, 0.5]])
    middle = np.zeros((32, 32, 3), np.uint8)
    middle[:, 12:16] = 255
    np.testing.assert_allclose(rolled.probabilities([middle]), [[0.5, 0.5]])
    np.testing.assert_allclose(plain.probabilities([middle]), [[1.0, 0.0]])


@pytest.mark.parametrize("style", ["resolutions", "ramp"])
def test_a_three_plane_style_model_sees_each_window_as_its_training_images(tmp_path, style):
    """The model card's style reaches prediction: a window is the clip's three-plane image, as trained on."""
    import io

    from PIL import Image

    from seesound.render import render_clip_image

    spec = SpectrogramSettings(style=style, image_size=32, duration_s=1.0)
    card = ModelCard(["a", "b"], spec.as_dict(), 1.0, 32, 2, "test")
    write_untrained_model(tmp_path / "m.pt", card)
    clip = write_wav_file(tmp_path / "clip.wav", tone(700, 1.0, RATE), RATE)
    windows = rendered_windows(Classifier(tmp_path / "m.pt"), clip, PredictSettings(hop_s=1.0))
    [(start, _, image)] = list(windows)
    trained_on = np.asarray(Image.open(io.BytesIO(render_clip_image(clip, spec))))
    assert start == 0 and image.shape == (32, 32, 3) and np.array_equal(image, trained_on)
    assert not np.array_equal(image[..., 0], image[..., 2])  # three planes, not a grey image
