"""STFT, dB, frequency scales and the colormapped image, checked against scipy and by construction."""

import io

import numpy as np
import pytest
import scipy.signal
from PIL import Image

from conftest import tone, write_wav_file
from seesound.render import load_clip, read_levels, render_clip_image
from seesound.spectrogram import (
    SpectrogramSettings,
    band_frequencies,
    colormap_lut,
    frequency_filterbank,
    frequency_ticks,
    normalize_db,
    render_rgb,
    spectrogram_db,
    stft_magnitude,
)


def test_stft_matches_scipy_signal_stft():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(5000).astype(np.float32)
    ours = stft_magnitude(x, 512, 256)
    _, _, z = scipy.signal.stft(x, window="hann", nperseg=512, noverlap=256, boundary=None, padded=True)
    theirs = np.abs(z) * scipy.signal.get_window("hann", 512).sum()  # scipy scales by the window's sum
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-3)


def test_clip_shorter_than_one_frame_gives_one_column():
    assert stft_magnitude(np.ones(100, np.float32), 1024, 512).shape == (513, 1)


def test_db_is_twenty_log10_of_magnitude_over_1e_minus_5():
    x = tone(1000, 1.0, 16000).astype(np.float32)
    settings = SpectrogramSettings(freq_scale="linear")
    db = spectrogram_db(x, settings)
    mag = stft_magnitude(x, 1024, 512)
    expected = 20 * np.log10(np.maximum(mag, 1e-5) / 1e-5)
    np.testing.assert_allclose(db, expected, rtol=1e-4, atol=1e-3)
    assert abs(np.argmax(db[:, 5]) - 1000 / (16000 / 1024)) <= 1


def test_digital_silence_is_finite_and_maps_to_the_floor_colour():
    settings = SpectrogramSettings(image_size=32)
    db = spectrogram_db(np.zeros(16000, np.float32), settings)
    assert np.isfinite(db).all() and (db == 0).all()
    rgb = render_rgb(np.zeros(16000, np.float32), settings)
    assert (rgb == colormap_lut("jet")[0]).all()


def test_silence_inside_a_clip_is_drawn_in_the_floor_colour_not_blank():
    x = np.concatenate([tone(500, 0.5, 16000), np.zeros(8000)]).astype(np.float32)
    unit = normalize_db(spectrogram_db(x, SpectrogramSettings()), 80.0)
    assert np.isfinite(unit).all() and unit[:, -3:].max() == 0.0 and unit.max() == 1.0


@pytest.mark.parametrize("scale", ["mel", "log"])
def test_filterbanks_have_no_empty_band_and_peak_where_the_tone_is(scale):
    settings = SpectrogramSettings(freq_scale=scale)
    bank = frequency_filterbank(settings)
    assert bank.shape == (128, 513) and (bank.sum(axis=1) > 0).all()
    db = spectrogram_db(tone(2000, 0.5, 16000).astype(np.float32), settings)
    peak_hz = band_frequencies(settings)[np.argmax(db[:, 3])]
    assert abs(peak_hz - 2000) / 2000 < 0.05


def test_image_is_square_rgb_with_low_frequencies_at_the_bottom(tmp_path):
    path = write_wav_file(tmp_path / "low.wav", tone(100, 1.0, 16000), 16000)
    settings = SpectrogramSettings(freq_scale="linear", image_size=64)
    rgb = np.asarray(Image.open(io.BytesIO(render_clip_image(path, settings))).convert("RGB"))
    assert rgb.shape == (64, 64, 3)
    lut = colormap_lut("jet").astype(int)
    rows_hot = [np.abs(rgb[r].astype(int) - lut[-1]).sum(axis=1).min() for r in range(64)]
    assert int(np.argmin(rows_hot)) > 56  # a 100 Hz tone lights the bottom rows


def test_grey_colormap_gives_equal_channels():
    rgb = render_rgb(tone(700, 0.5, 16000).astype(np.float32), SpectrogramSettings(colormap="gray", image_size=32))
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


def test_rendering_is_byte_identical_on_repeat(tmp_path):
    path = write_wav_file(tmp_path / "a.wav", tone(300, 0.7, 22050), 22050)
    settings = SpectrogramSettings(image_size=48)
    assert render_clip_image(path, settings) == render_clip_image(path, settings)


def test_tutorial_style_reproduces_the_tutorials_two_to_one_figure(tmp_path):
    path = write_wav_file(tmp_path / "a.wav", tone(300, 0.5, 16000), 16000)
    img = Image.open(io.BytesIO(render_clip_image(path, SpectrogramSettings(style="tutorial", image_size=60))))
    assert img.size == (120, 60)


def test_every_clip_is_resampled_to_the_analysis_rate_before_the_stft(tmp_path):
    path = write_wav_file(tmp_path / "a.wav", tone(1000, 0.5, 44100), 44100)
    samples = load_clip(path, SpectrogramSettings(sample_rate=16000))
    assert len(samples) == 8000
    peak_bin = np.argmax(np.abs(np.fft.rfft(samples)))
    assert abs(peak_bin * 16000 / len(samples) - 1000) <= 2


def test_the_same_sound_at_two_rates_gives_nearly_the_same_image(tmp_path):
    from seesound.audio import resample

    x = (tone(900, 1.0, 16000) + 0.3 * tone(2500, 1.0, 16000)).astype(np.float32)
    a = write_wav_file(tmp_path / "a16.wav", x, 16000)
    b = write_wav_file(tmp_path / "a44.wav", resample(x, 16000, 44100), 44100)
    settings = SpectrogramSettings(image_size=64)
    la, lb = (read_levels(io.BytesIO(render_clip_image(p, settings)), "jet").astype(int) for p in (a, b))
    assert np.abs(la - lb).mean() < 2.0  # of 255 levels: the frequency axes are the same


def test_images_are_palette_pngs_whose_levels_are_read_back_exactly(tmp_path):
    path = write_wav_file(tmp_path / "a.wav", tone(700, 0.5, 16000), 16000)
    settings = SpectrogramSettings(image_size=48)
    data = render_clip_image(path, settings)
    image = Image.open(io.BytesIO(data))
    assert image.mode == "P"
    from seesound.spectrogram import render_levels

    levels = render_levels(load_clip(path, settings), settings)
    assert np.array_equal(read_levels(io.BytesIO(data), "jet"), levels)
    assert np.array_equal(np.asarray(image.convert("RGB")), colormap_lut("jet")[levels])


def test_duration_setting_pads_short_clips_with_silence():
    short = tone(500, 0.5, 8000).astype(np.float32)
    a = render_rgb(short, SpectrogramSettings(image_size=32, duration_s=1.0, sample_rate=8000))
    assert (a[:, -4:] == colormap_lut("jet")[0]).all()


@pytest.mark.parametrize("scale", ["mel", "linear", "log"])
def test_frequency_ticks_run_from_the_bottom_to_the_top_frequency_in_order(scale):
    settings = SpectrogramSettings(freq_scale=scale)
    positions, labels = frequency_ticks(settings, 128)
    assert labels[-1] == "8 k" and positions[-1] >= 127 and positions[0] <= 0 and labels[0] in ("0", "20")
    assert (np.diff(positions) >= 0.06 * 128 - 1e-9).all() and len(labels) >= 4


def test_resolutions_style_gives_three_planes_aligned_in_time_and_read_back_exactly(tmp_path):
    """Style `resolutions`: the STFT at n_fft / 2, n_fft and 2 * n_fft as R, G and B, each centred on the same
    instants, so a click sits in the same column of every plane, sharpest in the shortest window's."""
    from seesound.spectrogram import render_levels

    x = np.zeros(16000, np.float32)
    x[[4000, 9000]] = 1.0  # two clicks
    path = write_wav_file(tmp_path / "clicks.wav", x + 1e-4 * tone(3000, 1.0, 16000), 16000)
    settings = SpectrogramSettings(style="resolutions", n_fft=512, hop_length=128, image_size=96)
    assert settings.channel_n_ffts == (256, 512, 1024)
    levels = render_levels(load_clip(path, settings), settings)
    assert levels.shape == (3, 96, 96) and levels.dtype == np.uint8
    loudness = levels.astype(float).mean(axis=1)  # per plane and column
    peaks = [sorted(np.argsort(plane)[-2:]) for plane in loudness]
    assert all(abs(p - q) <= 1 for plane in peaks[1:] for p, q in zip(plane, peaks[0]))
    assert abs(peaks[0][0] - 4000 / 16000 * 96) <= 2 and abs(peaks[0][1] - 9000 / 16000 * 96) <= 2
    widths = [(plane > plane.max() - 20).sum() for plane in loudness]  # columns near each click's level
    assert widths[0] < widths[2]
    data = render_clip_image(path, settings)
    assert Image.open(io.BytesIO(data)).mode == "RGB"
    assert np.array_equal(read_levels(io.BytesIO(data), "jet", "resolutions"), levels)
    assert np.array_equal(render_rgb(load_clip(path, settings), settings), np.moveaxis(levels, 0, -1))


def test_ramp_style_gives_the_levels_their_loudest_half_and_each_rows_frequency(tmp_path):
    """Style `ramp`: R the direct style's levels, G their top half stretched, B 255 on the top row (the highest
    band) down to 0 on the bottom one, the same in every column; stored as RGB and read back exactly."""
    from dataclasses import replace

    from seesound.spectrogram import render_levels

    path = write_wav_file(tmp_path / "tone.wav", tone(1000, 1.0, 16000), 16000)
    settings = SpectrogramSettings(style="ramp", image_size=64)
    samples = load_clip(path, settings)
    planes = render_levels(samples, settings)
    direct = render_levels(samples, replace(settings, style="direct"))
    assert planes.shape == (3, 64, 64) and planes.dtype == np.uint8
    assert np.array_equal(planes[0], direct)
    assert np.array_equal(planes[1], np.clip(2 * direct.astype(int) - 255, 0, 255))
    assert (planes[1] < planes[0]).any() and (planes[1][direct > 200] > 0).all()
    assert planes[2][0, 0] == 255 and planes[2][-1, 0] == 0 and (np.diff(planes[2][:, 0].astype(int)) < 0).all()
    assert (planes[2] == planes[2][:, :1]).all()
    data = render_clip_image(path, settings)
    assert Image.open(io.BytesIO(data)).mode == "RGB"
    assert np.array_equal(read_levels(io.BytesIO(data), "jet", "ramp"), planes)
    assert np.array_equal(render_rgb(samples, settings), np.moveaxis(planes, 0, -1))
