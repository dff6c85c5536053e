"""Audio -> spectrogram -> dB -> colormapped square image.

Each step is a small function with explicit parameters and no I/O, shared by the per-clip rule, the
prediction windows and the example plots, so training and prediction images are made the same way.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np

from .audio import read_wav, resample
from .fileio import atomic_write_bytes

AMPLITUDE_FLOOR = 1e-5  # the tutorial's reference: dB = 20*log10(|S| / 1e-5); also the floor for silence
LOG_SCALE_FLOOR_HZ = 20.0  # a log frequency axis starts here at the lowest (config.py checks against it)


@dataclass(frozen=True)
class SpectrogramSettings:
    """Every setting that changes a training image (config section `spectrogram`)."""

    n_fft: int = 1024
    hop_length: int = 512
    freq_scale: str = "mel"  # linear | mel | log
    n_mels: int = 128  # bands of the mel and log scales
    fmin: float = 0.0
    fmax: float | None = None  # None: Nyquist
    top_db: float = 80.0
    colormap: str = "jet"
    image_size: int = 224
    format: str = "png"
    sample_rate: int | None = None  # None keeps each file's rate
    duration_s: float | None = None  # None keeps each file's length; a number pads/cuts to it
    style: str = "direct"  # direct | seed (the tutorial's matplotlib figure)

    @classmethod
    def from_config(cls, section: dict) -> "SpectrogramSettings":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in section.items() if k in names})

    def as_dict(self) -> dict:
        return asdict(self)


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window (scipy.signal.get_window('hann', n))."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)


def frame_count(n_samples: int, n_fft: int, hop_length: int) -> int:
    """Frames of the STFT: the signal is zero-padded at the end to fill the last frame."""
    if n_samples <= n_fft:
        return 1
    return 1 + -(-(n_samples - n_fft) // hop_length)


def stft_magnitude(samples: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """|STFT| with a periodic Hann window, unscaled, shape (n_fft // 2 + 1, frames).

    Clips shorter than one frame are zero-padded, so every clip gives at least one column.
    """
    x = np.asarray(samples, dtype=np.float32)
    n_frames = frame_count(len(x), n_fft, hop_length)
    needed = n_fft + (n_frames - 1) * hop_length
    if len(x) < needed:
        x = np.concatenate([x, np.zeros(needed - len(x), np.float32)])
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length][:n_frames]
    return np.abs(np.fft.rfft(frames * hann_window(n_fft), axis=-1)).T


def hz_to_mel(f):
    """Slaney mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    min_log_hz, min_log_mel, logstep = 1000.0, 15.0, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f * 3.0 / 200.0)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    min_log_hz, min_log_mel, logstep = 1000.0, 15.0, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), m * 200.0 / 3.0)


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


@lru_cache(maxsize=16)
def frequency_filterbank(scale: str, sample_rate: int, n_fft: int, n_bands: int, fmin: float, fmax: float | None):
    """Matrix mapping linear STFT power to `n_bands` mel or log-spaced bands (None for `linear`)."""
    if scale == "linear":
        return None
    nyquist = sample_rate / 2.0
    fmax = nyquist if fmax is None else min(fmax, nyquist)
    bin_freqs = np.linspace(0.0, nyquist, n_fft // 2 + 1)
    if scale == "mel":
        edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_bands + 2))
    elif scale == "log":
        low = max(fmin, LOG_SCALE_FLOOR_HZ)  # a log axis cannot start at 0 Hz
        edges = np.geomspace(low, fmax, n_bands + 2)
    else:
        raise ValueError(f"unknown frequency scale {scale!r} (expected linear, mel or log)")
    return triangular_filterbank(bin_freqs, edges)


def band_frequencies(settings: SpectrogramSettings, sample_rate: int) -> np.ndarray:
    """Centre frequency in Hz of each row of the spectrogram (for plots on real axes)."""
    nyquist = sample_rate / 2.0
    fmax = nyquist if settings.fmax is None else min(settings.fmax, nyquist)
    if settings.freq_scale == "linear":
        return np.linspace(0.0, nyquist, settings.n_fft // 2 + 1)
    if settings.freq_scale == "mel":
        return mel_to_hz(np.linspace(hz_to_mel(settings.fmin), hz_to_mel(fmax), settings.n_mels + 2))[1:-1]
    return np.geomspace(max(settings.fmin, LOG_SCALE_FLOOR_HZ), fmax, settings.n_mels + 2)[1:-1]


def spectrogram_db(samples: np.ndarray, sample_rate: int, settings: SpectrogramSettings) -> np.ndarray:
    """Spectrogram in dB re 1e-5 (the tutorial's reference), floored at 0 dB so silence is finite.

    Shape (bands, frames); row 0 is the lowest frequency.
    """
    mag = stft_magnitude(samples, settings.n_fft, settings.hop_length)
    bank = frequency_filterbank(
        settings.freq_scale, sample_rate, settings.n_fft, settings.n_mels, settings.fmin, settings.fmax
    )
    if bank is None:
        if settings.fmin > 0 or settings.fmax is not None:
            freqs = np.linspace(0.0, sample_rate / 2.0, mag.shape[0])
            keep = (freqs >= settings.fmin) & (freqs <= (settings.fmax or np.inf))
            mag = mag[keep]
        power = mag * mag
    else:
        power = bank @ (mag * mag)
    return 10.0 * np.log10(np.maximum(power, AMPLITUDE_FLOOR**2) / AMPLITUDE_FLOOR**2)


def normalize_db(db: np.ndarray, top_db: float) -> np.ndarray:
    """Map dB to [0, 1]: the clip's peak to 1, `top_db` below it (or the 0 dB floor) to 0.

    Digital silence has every value on the floor and maps to 0, the colormap's lowest colour.
    """
    low = max(float(db.max()) - top_db, 0.0)
    return np.clip((db - low) / top_db, 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=8)
def colormap_lut(name: str) -> np.ndarray:
    """256 x 3 uint8 lookup table of a matplotlib colormap (grey maps give R = G = B)."""
    import matplotlib  # the colormap registry only; pyplot is never imported on the per-clip path

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise ValueError(f"unknown colormap {name!r}; see matplotlib.colormaps") from None
    return (cmap(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)


def resize_square(values: np.ndarray, size: int) -> np.ndarray:
    """Resample a (bands, frames) float array to (size, size) with antialiasing (PIL's bilinear)."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), mode="F")
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)


def colorize(unit: np.ndarray, colormap: str) -> np.ndarray:
    """Values in [0, 1] (row 0 = lowest frequency) -> RGB uint8 image with low frequencies at the bottom."""
    index = np.clip((unit[::-1] * 255.0 + 0.5).astype(np.int32), 0, 255)
    return colormap_lut(colormap)[index]


def fit_duration(samples: np.ndarray, sample_rate: int, duration_s: float | None) -> np.ndarray:
    """Zero-pad or cut a clip to `duration_s` (None leaves it as it is)."""
    if duration_s is None:
        return samples
    n = int(round(duration_s * sample_rate))
    if len(samples) >= n:
        return samples[:n]
    return np.concatenate([samples, np.zeros(n - len(samples), np.float32)])


def render_rgb(samples: np.ndarray, sample_rate: int, settings: SpectrogramSettings) -> np.ndarray:
    """The training image of a clip as an RGB uint8 array (image_size x image_size x 3)."""
    samples = fit_duration(samples, sample_rate, settings.duration_s)
    unit = normalize_db(spectrogram_db(samples, sample_rate, settings), settings.top_db)
    return colorize(resize_square(unit, settings.image_size), settings.colormap)


def encode_image(rgb: np.ndarray, fmt: str) -> bytes:
    """PNG (lossless, fast compression) or JPEG (quality 95) bytes; identical input gives identical bytes."""
    from PIL import Image

    buf = io.BytesIO()
    if fmt == "png":
        Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    else:
        Image.fromarray(rgb).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def render_seed_figure(samples: np.ndarray, sample_rate: int, settings: SpectrogramSettings) -> bytes:
    """The tutorial's rendering: a 15 x 7.5 in matplotlib figure, axes off, saved as an image.

    Kept for comparison (`spectrogram.style: seed`); the figure is scaled to `image_size` pixels high,
    so images are 2:1 and Ultralytics' centre crop cuts their sides, as in the tutorial.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = fit_duration(samples, sample_rate, settings.duration_s)
    db = spectrogram_db(samples, sample_rate, settings)
    fig = plt.figure(figsize=(15, 7.5), dpi=settings.image_size / 7.5)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(db, origin="lower", aspect="auto", cmap=settings.colormap, interpolation="antialiased")
    ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="jpeg" if settings.format == "jpg" else "png", pil_kwargs={} if settings.format == "jpg" else {"compress_level": 1})
    plt.close(fig)
    return buf.getvalue()


def load_clip(path, settings: SpectrogramSettings) -> tuple[np.ndarray, int]:
    """Read a WAV and resample it to `settings.sample_rate` when one is set."""
    samples, rate = read_wav(path)
    if settings.sample_rate is not None and settings.sample_rate != rate:
        samples, rate = resample(samples, rate, settings.sample_rate), settings.sample_rate
    check_rate(path, rate, settings)
    return samples, rate


def check_rate(path, rate: int, settings: SpectrogramSettings) -> None:
    """A clip whose Nyquist frequency lies below the lowest band would render blank: a bad clip, named."""
    from .audio import BadAudioError

    lowest = max(settings.fmin, LOG_SCALE_FLOOR_HZ) if settings.freq_scale == "log" else settings.fmin
    if rate / 2 <= lowest:
        raise BadAudioError(path, f"its sample rate ({rate} Hz) has no frequencies above {lowest:g} Hz "
                                  f"(spectrogram.fmin); resample it or lower fmin")


def render_clip_image(wav_path, settings: SpectrogramSettings) -> bytes:
    """Encoded training image of one WAV file."""
    samples, rate = load_clip(wav_path, settings)
    if settings.style == "seed":
        return render_seed_figure(samples, rate, settings)
    return encode_image(render_rgb(samples, rate, settings), settings.format)


def write_clip_image(wav_path, image_path, settings: SpectrogramSettings) -> None:
    """The per-clip job: read, render, write atomically."""
    atomic_write_bytes(image_path, render_clip_image(wav_path, settings))


BAD_AUDIO_KEY = "seesound-bad-audio"


def bad_audio_placeholder(reason: str, fmt: str) -> bytes:
    """A 1 x 1 image whose metadata carries why the clip could not be used (`on_bad_audio: skip`).

    The job still produces its output, so the run goes on; the split reads the reason and leaves the
    clip out. A placeholder is never mistaken for a spectrogram: real images are at least 16 px wide.
    """
    from PIL import Image, PngImagePlugin

    buf = io.BytesIO()
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_itxt(BAD_AUDIO_KEY, reason)
        Image.new("RGB", (1, 1)).save(buf, format="PNG", pnginfo=info)
    else:
        Image.new("RGB", (1, 1)).save(buf, format="JPEG", comment=f"{BAD_AUDIO_KEY}: {reason}".encode("utf-8"))
    return buf.getvalue()


def bad_audio_reason(image_path) -> str | None:
    """The reason stored in a placeholder, or None for a real spectrogram image."""
    import os

    if os.path.getsize(image_path) > 4096:  # placeholders are a few hundred bytes; skip opening real images
        return None
    from PIL import Image

    with Image.open(image_path) as im:
        if im.size != (1, 1):
            return None
        if BAD_AUDIO_KEY in im.info:
            return str(im.info[BAD_AUDIO_KEY])
        comment = im.info.get("comment", b"")
        comment = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment)
        return comment.split(": ", 1)[1] if comment.startswith(BAD_AUDIO_KEY) else None


def render_clip_job(wav_path, image_path, settings: dict, on_bad_audio: str, log_path) -> None:
    """The `spectrogram` rule. A bad file stops the job (`fail`) or becomes a placeholder (`skip`);
    either way its reason goes to the job's log."""
    render_clips_job([wav_path], [image_path], settings, on_bad_audio, log_path)


def render_clips_job(wav_paths, image_paths, settings: dict, on_bad_audio: str, log_path) -> None:
    """The `spectrogram` and `spectrogram_batch` rules: render each clip, handling bad audio by policy."""
    from pathlib import Path

    from .audio import BadAudioError

    spec = SpectrogramSettings(**settings)
    for wav_path, image_path in zip(wav_paths, image_paths):
        try:
            write_clip_image(wav_path, image_path, spec)
        except BadAudioError as e:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"{e}\n")
            if on_bad_audio != "skip":
                raise
            atomic_write_bytes(image_path, bad_audio_placeholder(e.reason, spec.format))
