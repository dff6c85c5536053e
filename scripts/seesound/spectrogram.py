"""Audio -> spectrogram -> dB -> levels -> colours: pure signal processing, no file I/O.

Each step is a small function with explicit parameters, shared by the per-clip jobs (seesound.render),
the prediction windows and the plots, so training and prediction images are made the same way. Samples
are always at the analysis rate `settings.sample_rate` (seesound.audio resamples them to it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache

import numpy as np

AMPLITUDE_FLOOR = 1e-5  # the tutorial's reference: dB = 20*log10(|S| / 1e-5); also the floor for silence
LOG_SCALE_FLOOR_HZ = 20.0  # a log frequency axis starts here at the lowest (config.py checks against it)
DEFAULT_SAMPLE_RATE = 16000


@dataclass(frozen=True)
class SpectrogramSettings:
    """Every setting that changes a training image (config section `spectrogram`)."""

    n_fft: int = 1024
    hop_length: int = 512
    freq_scale: str = "mel"  # linear | mel | log
    n_mels: int = 128  # bands of the mel and log scales
    fmin: float = 0.0
    fmax: float | None = None  # None: Nyquist of the analysis rate
    top_db: float = 80.0
    colormap: str = "jet"
    image_size: int = 224
    format: str = "png"
    sample_rate: int = DEFAULT_SAMPLE_RATE  # the analysis rate: every clip and recording is resampled to it
    duration_s: float | None = None  # None keeps each file's length; a number pads/cuts to it
    style: str = "direct"  # direct | resolutions (three STFT sizes as R, G, B) | ramp (levels, their loudest half
    # and a frequency ramp as R, G, B) | tutorial (matplotlib figure)

    @classmethod
    def from_config(cls, section: dict) -> SpectrogramSettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in section.items() if k in names})

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def channel_n_ffts(self) -> tuple[int, ...]:
        """The STFT size behind each image channel: one for `direct` (its colours come from the colormap),
        half, once and twice n_fft at the same hop for `resolutions` (short windows resolve onsets, long
        ones pitch; each channel is one of them)."""
        if self.style == "resolutions":
            return (self.n_fft // 2, self.n_fft, self.n_fft * 2)
        return (self.n_fft,)

    @property
    def top_hz(self) -> float:
        """The highest frequency an image shows."""
        nyquist = self.sample_rate / 2.0
        return nyquist if self.fmax is None else min(self.fmax, nyquist)

    @property
    def bottom_hz(self) -> float:
        """The lowest frequency an image shows."""
        return max(self.fmin, LOG_SCALE_FLOOR_HZ) if self.freq_scale == "log" else self.fmin


@lru_cache(maxsize=8)
def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window (scipy.signal.get_window('hann', n))."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def frame_count(n_samples: int, n_fft: int, hop_length: int) -> int:
    """Frames of the STFT: the signal is zero-padded at the end to fill the last frame."""
    if n_samples <= n_fft:
        return 1
    return 1 + -(-(n_samples - n_fft) // hop_length)


def stft_frames(samples: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """The STFT's frames as a (frames, n_fft) view; clips shorter than one frame are zero-padded, so every
    clip gives at least one frame."""
    x = np.asarray(samples, dtype=np.float32)
    n_frames = frame_count(len(x), n_fft, hop_length)
    needed = n_fft + (n_frames - 1) * hop_length
    if len(x) < needed:
        x = np.concatenate([x, np.zeros(needed - len(x), np.float32)])
    return np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length][:n_frames]


def stft_power(samples: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """|STFT|^2 with a periodic Hann window, unscaled, shape (n_fft // 2 + 1, frames), single precision."""
    return frames_power(stft_frames(samples, n_fft, hop_length))


def frames_power(frames: np.ndarray) -> np.ndarray:
    """|FFT|^2 of Hann-windowed frames (frames, n_fft) -> (n_fft // 2 + 1, frames)."""
    import scipy.fft

    spectrum = scipy.fft.rfft(frames * hann_window(frames.shape[1]), axis=-1)
    return (spectrum.real**2 + spectrum.imag**2).T


def stft_magnitude(samples: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    return np.sqrt(stft_power(samples, n_fft, hop_length))


def hz_to_mel(f):
    """Slaney mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    min_log_hz, min_log_mel, logstep = 1000.0, 15.0, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f * 3.0 / 200.0)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    min_log_hz, min_log_mel, logstep = 1000.0, 15.0, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), m * 200.0 / 3.0)


def band_edges(scale: str, fmin: float, fmax: float, n_bands: int) -> np.ndarray:
    """The n_bands + 2 edge frequencies of mel or log bands: band i has its feet at edges[i] and edges[i+2]
    and its centre at edges[i+1]. The one place both the filterbank and the plot axes take them from."""
    if scale == "mel":
        return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_bands + 2))
    if scale == "log":
        return np.geomspace(max(fmin, LOG_SCALE_FLOOR_HZ), fmax, n_bands + 2)  # a log axis cannot start at 0 Hz
    raise ValueError(f"unknown frequency scale {scale!r} (expected mel or log)")


def triangular_filterbank(bin_freqs: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Filters with peak 1 at edges[i+1] and feet at edges[i], edges[i+2]; shape (len(edges)-2, bins).

    A filter narrower than the FFT bin spacing would catch no bin (a blank band in the image); such a
    filter falls back to linear interpolation between the two bins around its centre.
    """
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    f = bin_freqs[None, :]
    rising = (f - lower) / np.maximum(centre - lower, 1e-10)
    falling = (upper - f) / np.maximum(upper - centre, 1e-10)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    for i in np.flatnonzero(weights.sum(axis=1) == 0):
        c = np.clip(edges[i + 1], bin_freqs[0], bin_freqs[-1])
        j = min(int(np.searchsorted(bin_freqs, c, side="right")) - 1, len(bin_freqs) - 2)
        t = (c - bin_freqs[j]) / (bin_freqs[j + 1] - bin_freqs[j])
        weights[i, j], weights[i, j + 1] = 1.0 - t, t
    return weights.astype(np.float32)


def linear_bins(settings: SpectrogramSettings) -> np.ndarray:
    """The STFT bins (as a boolean mask) that a linear-scale image keeps between fmin and fmax."""
    freqs = np.linspace(0.0, settings.sample_rate / 2.0, settings.n_fft // 2 + 1)
    return (freqs >= settings.fmin) & (freqs <= settings.top_hz)


@lru_cache(maxsize=16)
def _filterbank(scale: str, sample_rate: int, n_fft: int, n_bands: int, fmin: float, fmax: float) -> np.ndarray:
    bin_freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    return triangular_filterbank(bin_freqs, band_edges(scale, fmin, fmax, n_bands))


def frequency_filterbank(settings: SpectrogramSettings) -> np.ndarray | None:
    """Matrix mapping linear STFT power to the mel or log bands (None for `linear`)."""
    if settings.freq_scale == "linear":
        return None
    return _filterbank(
        settings.freq_scale,
        settings.sample_rate,
        settings.n_fft,
        settings.n_mels,
        float(settings.fmin),
        float(settings.top_hz),
    )


def band_frequencies(settings: SpectrogramSettings) -> np.ndarray:
    """Centre frequency in Hz of each row of the spectrogram (row 0 the lowest), for plots on real axes."""
    if settings.freq_scale == "linear":
        return np.linspace(0.0, settings.sample_rate / 2.0, settings.n_fft // 2 + 1)[linear_bins(settings)]
    return band_edges(settings.freq_scale, settings.fmin, settings.top_hz, settings.n_mels)[1:-1]


# Frames per FFT call: each call's arrays stay below glibc's 128 KiB mmap threshold, so they come from the
# heap instead of fresh zeroed pages (one 156-frame call took 1.1 ms, 24-frame chunks 0.5 ms in all).
FRAMES_PER_CHUNK = 24


def spectrogram_db(samples: np.ndarray, settings: SpectrogramSettings, n_frames: int | None = None) -> np.ndarray:
    """Spectrogram in dB re 1e-5 (the tutorial's reference), floored at 0 dB so silence is finite.

    `samples` are at the analysis rate settings.sample_rate. Shape (bands, frames); row 0 is the lowest
    frequency. `n_frames` keeps the first frames only.
    """
    frames = stft_frames(samples, settings.n_fft, settings.hop_length)[:n_frames]
    bank = frequency_filterbank(settings)
    keep = linear_bins(settings) if bank is None and (settings.fmin > 0 or settings.fmax is not None) else None
    bands = len(bank) if bank is not None else int(keep.sum()) if keep is not None else settings.n_fft // 2 + 1
    out = np.empty((bands, len(frames)), np.float32)
    for i in range(0, len(frames), FRAMES_PER_CHUNK):
        power = frames_power(frames[i : i + FRAMES_PER_CHUNK])
        out[:, i : i + FRAMES_PER_CHUNK] = (
            bank @ power if bank is not None else power[keep] if keep is not None else power
        )
    return to_db(out)


def to_db(power: np.ndarray) -> np.ndarray:
    """Power -> dB re 1e-5 amplitude, floored at 0 dB (digital silence is finite)."""
    np.maximum(power, AMPLITUDE_FLOOR**2, out=power)
    return 10.0 * np.log10(power / AMPLITUDE_FLOOR**2)


def power_to_db(power: np.ndarray, settings: SpectrogramSettings) -> np.ndarray:
    """STFT power (bins, frames) -> the image's bands in dB re 1e-5, floored at 0 dB."""
    bank = frequency_filterbank(settings)
    if bank is None:
        if settings.fmin > 0 or settings.fmax is not None:
            power = power[linear_bins(settings)]
    else:
        power = bank @ power
    return to_db(np.array(power, dtype=np.float32))


def frequency_ticks(settings: SpectrogramSettings, n_rows: int, count: int = 7) -> tuple[np.ndarray, list[str]]:
    """Row positions (row 0 = lowest band) and Hz/kHz labels for a frequency axis drawn as evenly spaced rows,
    from the lowest to the top frequency: round values spread evenly over the rows of the scale."""
    centres = band_frequencies(settings)
    # row r spans [r - 0.5, r + 0.5]; the axis ends at the bottom and top frequencies
    freqs = np.concatenate([[settings.bottom_hz], centres, [settings.top_hz]])
    rows = np.concatenate([[-0.5], np.linspace(0, n_rows - 1, len(centres)), [n_rows - 0.5]])
    freqs, first = np.unique(freqs, return_index=True)  # a linear scale's first bin sits on the bottom edge
    rows = rows[first]
    picked = []
    for f in np.interp(np.linspace(-0.5, n_rows - 0.5, count), rows, freqs)[1:-1]:
        step = 10 ** np.floor(np.log10(max(f, 1.0)))
        picked.append(float(np.round(f / (step / 2)) * (step / 2)))
    span = n_rows
    ticks = [settings.bottom_hz]
    for f in sorted(set(picked)) + [settings.top_hz]:
        if np.interp(f, freqs, rows) - np.interp(ticks[-1], freqs, rows) >= 0.06 * span:
            ticks.append(f)
        elif f == settings.top_hz:
            ticks[-1] = f  # the top frequency wins over a round value just below it
    positions = np.interp(ticks, freqs, rows)
    return positions, [f"{x / 1000:.3g} k" if x >= 1000 else f"{x:.0f}" for x in ticks]


def normalize_db(db: np.ndarray, top_db: float) -> np.ndarray:
    """Map dB to [0, 1]: the clip's peak to 1, `top_db` below it (or the 0 dB floor) to 0.

    Digital silence has every value on the floor and maps to 0, the colormap's lowest colour.
    """
    low = max(float(db.max()) - top_db, 0.0)
    return np.clip((db - low) / top_db, 0.0, 1.0).astype(np.float32)


def resize_square(values: np.ndarray, size: int) -> np.ndarray:
    """Resample a (bands, frames) float array to (size, size) with antialiasing (PIL's bilinear)."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), mode="F")
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)


def to_levels(unit: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (row 0 = lowest frequency) -> 0..255 levels, image orientation (low frequencies at
    the bottom). A level is an index into the colormap's 256-colour table."""
    return (np.clip(unit[::-1], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@lru_cache(maxsize=8)
def colormap_lut(name: str) -> np.ndarray:
    """256 x 3 uint8 lookup table of a matplotlib colormap (grey maps give R = G = B)."""
    import matplotlib  # the colormap registry only; pyplot is never imported on the per-clip path

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise ValueError(f"unknown colormap {name!r}; see matplotlib.colormaps") from None
    return (cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)


def colorize(levels: np.ndarray, colormap: str) -> np.ndarray:
    """0..255 levels -> RGB uint8 through the colormap's table."""
    return np.take(colormap_lut(colormap), levels, axis=0)


def fit_duration(samples: np.ndarray, sample_rate: int, duration_s: float | None) -> np.ndarray:
    """Zero-pad or cut a clip to `duration_s` (None leaves it as it is)."""
    if duration_s is None:
        return samples
    n = int(round(duration_s * sample_rate))
    if len(samples) >= n:
        return samples[:n]
    return np.concatenate([samples, np.zeros(n - len(samples), np.float32)])


def resolution_db(samples: np.ndarray, settings: SpectrogramSettings) -> list[np.ndarray]:
    """The clip's dB spectrogram at each of settings.channel_n_ffts, frame for frame centred on the same
    instants: a shorter window starts (largest - its size) / 2 samples later, and every channel has the
    largest window's frame count."""
    largest = max(settings.channel_n_ffts)
    n_frames = frame_count(len(samples), largest, settings.hop_length)
    return [
        spectrogram_db(samples[(largest - n_fft) // 2 :], replace(settings, n_fft=n_fft), n_frames)
        for n_fft in settings.channel_n_ffts
    ]


# Styles whose images are three planes of levels stored as R, G and B (plain RGB PNGs, colormap unused)
PLANE_STYLES = ("resolutions", "ramp")


def ramp_planes(levels: np.ndarray) -> np.ndarray:
    """Style `ramp`: a clip's levels (H x W uint8, image orientation) -> 3 x H x W uint8: the levels, their
    loudest half (the top top_db / 2 stretched over the whole range: a second response to loudness, as a
    colormap's channels are) and a ramp from 0 on the bottom row (the lowest band) to 255 on the top one.

    A convolution sees the same pattern alike at every height and the classifier averages over the image, so
    by itself the network hardly knows which frequency it hears; the ramp tells it."""
    height, width = levels.shape
    loud = np.clip(2 * levels.astype(np.int16) - 255, 0, 255).astype(np.uint8)
    rows = np.rint(np.linspace(255.0, 0.0, height)).astype(np.uint8)
    return np.stack([levels, loud, np.repeat(rows[:, None], width, axis=1)])


def render_levels(samples: np.ndarray, settings: SpectrogramSettings) -> np.ndarray:
    """The training image of a clip as levels: image_size x image_size uint8 (colorize() gives its colours),
    or 3 x image_size x image_size for `resolutions` (each STFT size normalised to its own peak) and `ramp`."""
    samples = fit_duration(samples, settings.sample_rate, settings.duration_s)
    if settings.style == "resolutions":
        planes = [normalize_db(db, settings.top_db) for db in resolution_db(samples, settings)]
        return np.stack([to_levels(resize_square(unit, settings.image_size)) for unit in planes])
    unit = normalize_db(spectrogram_db(samples, settings), settings.top_db)
    levels = to_levels(resize_square(unit, settings.image_size))
    return ramp_planes(levels) if settings.style == "ramp" else levels


def levels_to_rgb(levels: np.ndarray, colormap: str) -> np.ndarray:
    """Levels -> the image's RGB uint8: one plane (H x W) through the colormap's table, or three planes
    (3 x H x W, PLANE_STYLES) as the R, G and B channels themselves."""
    if levels.ndim == 3:
        return np.ascontiguousarray(np.moveaxis(levels, 0, -1))
    return colorize(levels, colormap)


def render_rgb(samples: np.ndarray, settings: SpectrogramSettings) -> np.ndarray:
    """The training image of a clip as an RGB uint8 array (image_size x image_size x 3)."""
    return levels_to_rgb(render_levels(samples, settings), settings.colormap)
