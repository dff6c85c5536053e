"""The WAV reader: every encoding users have, and clear errors for the rest."""

import numpy as np
import pytest

from conftest import encode_wav, tone, write_wav_file
from seesound.audio import BadAudioError, read_audio, read_audio_info, read_frames, resample

TOLERANCE = {
    "pcm8": 1 / 100,
    "pcm16": 1e-4,
    "pcm24": 1e-6,
    "pcm32": 1e-6,
    "float32": 1e-7,
    "float64": 1e-7,
    "mulaw": 0.02,
    "alaw": 0.02,
}


@pytest.mark.parametrize("encoding", list(TOLERANCE))
def test_every_pcm_and_float_encoding_decodes_to_the_same_signal(tmp_path, encoding):
    x = tone(440, 0.1, 8000, amplitude=0.8)
    path = write_wav_file(tmp_path / f"{encoding}.wav", x, 8000, encoding)
    y, rate = read_audio(path)
    assert rate == 8000 and y.dtype == np.float32 and len(y) == len(x)
    assert np.max(np.abs(y - x)) < TOLERANCE[encoding]


def test_extensible_header_is_read_like_plain_pcm(tmp_path):
    x = tone(300, 0.05, 16000)
    plain, _ = read_audio(write_wav_file(tmp_path / "a.wav", x, 16000, "pcm24"))
    ext, _ = read_audio(write_wav_file(tmp_path / "b.wav", x, 16000, "pcm24", extensible=True))
    np.testing.assert_array_equal(plain, ext)


@pytest.mark.parametrize("channels", [2, 6])
def test_multichannel_is_downmixed_to_the_channel_mean(tmp_path, channels):
    x = np.stack([tone(200 * (c + 1), 0.05, 16000, 0.1) for c in range(channels)], axis=1)
    y, _ = read_audio(write_wav_file(tmp_path / "multi.wav", x, 16000, "float32"))
    np.testing.assert_allclose(y, x.mean(axis=1), atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 96000])
def test_any_sample_rate_is_reported(tmp_path, rate):
    info = read_audio_info(write_wav_file(tmp_path / "r.wav", tone(100, 0.02, rate), rate))
    assert info.sample_rate == rate and info.n_frames == int(round(0.02 * rate))


def test_windowed_read_returns_exactly_the_requested_frames(tmp_path):
    x = np.linspace(-0.5, 0.5, 1000)
    info = read_audio_info(write_wav_file(tmp_path / "w.wav", x, 8000, "float32"))
    np.testing.assert_allclose(read_frames(info, 100, 50), x[100:150], atol=1e-7)
    assert len(read_frames(info, 990, 50)) == 10


def test_not_a_wav_is_refused_with_the_file_name(tmp_path):
    path = tmp_path / "fake.wav"
    path.write_text("hello, I am a text file")
    with pytest.raises(BadAudioError, match="fake.wav: not a WAV file"):
        read_audio(path)


def test_truncated_wav_is_refused(tmp_path):
    data = encode_wav(tone(440, 0.5, 8000), 8000)
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadAudioError, match="truncated"):
        read_audio(path)


def test_empty_wav_is_refused(tmp_path):
    path = write_wav_file(tmp_path / "empty.wav", np.zeros(0), 8000)
    with pytest.raises(BadAudioError, match="no audio samples"):
        read_audio(path)


def test_nan_samples_are_refused(tmp_path):
    x = tone(440, 0.01, 8000)
    x[5] = np.nan
    with pytest.raises(BadAudioError, match="NaN or infinite"):
        read_audio(write_wav_file(tmp_path / "nan.wav", x, 8000, "float32"))


def test_unsupported_codec_names_the_codec_and_the_fix(tmp_path):
    path = write_wav_file(tmp_path / "adpcm.wav", np.zeros(10), 8000, "adpcm")
    with pytest.raises(BadAudioError, match="WAV codec \\(IMA ADPCM\\).*ffmpeg"):
        read_audio(path)


def test_resample_keeps_a_tone_at_its_frequency():
    y = resample(tone(1000, 1.0, 44100).astype(np.float32), 44100, 16000)
    assert len(y) == 16000
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) - 1000) <= 1
