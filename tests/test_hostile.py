"""Bad and hostile input: each case is handled or stopped with one sentence naming the file and reason."""

import struct
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from conftest import TINY_SPECTROGRAM, TINY_TRAIN, encode_wav, run_snakemake, tone, write_config, write_wav_file
from seesound.audio import BadAudioError, read_audio
from seesound.model import ModelError, load_classifier

GOOD_NAMES = ["plain.wav", "with spaces.wav", "ünïcödé ñame.wav", "several.dots.in.name.wav", "UPPER.WAV"]


def make_hostile_folder(root):
    """Two classes of good clips (odd names included) plus one broken file of each kind in class 'b'."""
    for label, freq in (("a", 300), ("b", 1500)):
        for i, name in enumerate(GOOD_NAMES + [f"extra{k}.wav" for k in range(4)]):
            write_wav_file(root / label / name, tone(freq + 30 * i, 0.5, 8000), 8000)
    bad = root / "b"
    (bad / "not_audio.wav").write_text("this is a text file, not audio")
    whole = encode_wav(tone(500, 0.5, 8000), 8000)
    (bad / "truncated.wav").write_bytes(whole[: len(whole) // 3])
    write_wav_file(bad / "empty.wav", np.zeros(0), 8000)
    nan = tone(500, 0.2, 8000)
    nan[100] = np.inf
    write_wav_file(bad / "inf.wav", nan, 8000, "float32")
    write_wav_file(bad / "adpcm.wav", np.zeros(8), 8000, "adpcm")
    return {
        "not_audio": "not a WAV file",
        "truncated": "truncated",
        "empty": "no audio samples",
        "inf": "NaN or infinite",
        "adpcm": "unsupported WAV codec",
    }


def test_skip_policy_lists_bad_files_with_reasons_and_finishes(tmp_path):
    expected = make_hostile_folder(tmp_path / "data")
    write_wav_file(tmp_path / "data" / "a" / "tiny.wav", tone(300, 0.01, 8000), 8000)  # shorter than one frame
    write_wav_file(tmp_path / "data" / "a" / "silence.wav", np.zeros(4000), 8000)
    write_config(
        tmp_path,
        {
            "dataset": {"kind": "folder", "path": "data", "on_bad_audio": "skip"},
            "spectrogram": TINY_SPECTROGRAM | {"n_fft": 512},
            "train": TINY_TRAIN,
        },
    )
    run_snakemake(tmp_path, "--cores", "2")
    bad = pd.read_csv(tmp_path / "results" / "bad_audio.csv")
    assert sorted(bad.clip_id) == sorted(f"b/{k}" for k in expected)
    for rec in bad.itertuples():
        assert expected[rec.clip_id[2:]] in rec.reason
    listing = pd.read_csv(tmp_path / "results" / "split.csv")
    assert set(listing.clip_id).isdisjoint(bad.clip_id)
    for name in GOOD_NAMES:
        assert f"a/{name.rsplit('.', 1)[0]}" in set(listing.clip_id)
    assert {"a/tiny", "a/silence"} <= set(listing.clip_id)
    assert (tmp_path / "results" / "metrics.json").is_file()


def test_fail_policy_stops_naming_the_file_and_keeps_the_good_images(tmp_path):
    make_hostile_folder(tmp_path / "data")
    for f in ("truncated", "empty", "inf", "adpcm"):
        (tmp_path / "data" / "b" / f"{f}.wav").unlink()
    write_config(tmp_path, {"dataset": {"kind": "folder", "path": "data"}, "spectrogram": TINY_SPECTROGRAM})
    proc = run_snakemake(tmp_path, "--cores", "2", "--keep-going", "spectrograms", check=False)
    assert proc.returncode != 0
    assert "not_audio.wav: not a WAV file" in proc.stdout + proc.stderr
    assert "not a WAV file" in (tmp_path / "results" / "logs" / "spectrogram" / "b" / "not_audio.log").read_text()
    images = list((tmp_path / "results" / "spectrograms").rglob("*.png"))
    assert len(images) == 18  # every good clip was rendered (--keep-going); the bad one left no file
    assert not (tmp_path / "results" / "spectrograms" / "b" / "not_audio.png").exists()


@pytest.mark.parametrize("tag, name", [(0x0055, "MP3"), (0x0002, "Microsoft ADPCM")])
def test_compressed_codecs_in_a_wav_container_are_named(tmp_path, tag, name):
    data = bytearray(encode_wav(np.zeros(16), 8000))
    data[20:22] = struct.pack("<H", tag)
    (tmp_path / "c.wav").write_bytes(bytes(data))
    with pytest.raises(BadAudioError, match=f"unsupported WAV codec \\({name}\\)"):
        read_audio(tmp_path / "c.wav")


def test_a_pt_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path):
    fake = tmp_path / "model.pt"
    fake.write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="cannot be loaded as an Ultralytics model"):
        load_classifier(fake)
    with pytest.raises(ModelError, match="no such checkpoint file"):
        load_classifier(tmp_path / "missing" / "model.pt")


def test_a_detection_checkpoint_is_refused_as_not_a_classifier(tmp_path):
    from seesound.model import configure_ultralytics_offline

    configure_ultralytics_offline()
    from ultralytics import YOLO

    YOLO("yolov8n.yaml").save(tmp_path / "detect.pt")
    with pytest.raises(ModelError, match="is a 'detect' model, not an Ultralytics classification model"):
        load_classifier(tmp_path / "detect.pt")


def write_long_wav(path, seconds, rate):
    """A long 16-bit recording written in chunks (the test itself never holds it in memory)."""
    n = seconds * rate
    with open(path, "wb") as f:
        f.write(
            struct.pack(
                "<4sI4s4sIHHIIHH4sI",
                b"RIFF",
                36 + 2 * n,
                b"WAVE",
                b"fmt ",
                16,
                1,
                1,
                rate,
                2 * rate,
                2,
                16,
                b"data",
                2 * n,
            )
        )
        rng = np.random.default_rng(0)
        for start in range(0, n, rate * 60):
            chunk = (rng.standard_normal(min(rate * 60, n - start)) * 3000).astype("<i2")
            f.write(chunk.tobytes())


def test_an_hour_long_recording_is_classified_in_bounded_memory(tmp_path):
    from seesound.model import Classifier, ModelCard, write_untrained_model
    from seesound.prediction import PredictSettings, classify_recording
    from seesound.spectrogram import SpectrogramSettings

    spec = SpectrogramSettings(n_fft=256, hop_length=128, n_mels=32, image_size=32, sample_rate=8000)
    write_untrained_model(tmp_path / "m.pt", ModelCard(["a", "b"], spec.as_dict(), 10.0, 32, 2, "test"))
    classifier = Classifier(tmp_path / "m.pt")
    settings = PredictSettings(hop_s=10.0, batch=64)
    classify_recording(classifier, write_wav_file(tmp_path / "warm.wav", tone(), 8000), settings)

    def peak_memory(seconds):
        path = tmp_path / f"{seconds}.wav"
        write_long_wav(path, seconds, 8000)
        tracemalloc.start()
        windows, probs, _ = classify_recording(classifier, path, settings)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        path.unlink()
        assert len(windows) == seconds // 10 and windows.end_s.iloc[-1] == seconds and probs.shape[0] == seconds // 10
        return peak

    ten_minutes, hour = peak_memory(600), peak_memory(3600)  # the hour is 57.6 MB of samples
    assert hour < 30e6, f"peak Python/numpy memory {hour / 1e6:.0f} MB for an hour-long recording"
    assert hour < 1.5 * ten_minutes, "memory grows with the recording's length"
