"""The spectrogram jobs: read a clip, render it, write its image; bad audio by `dataset.on_bad_audio`.

Images are palette PNGs: each pixel stores its level (0..255) and the palette is the colormap's table, so
every reader decodes the same RGB colours as a plain RGB PNG, the file is a third of the raw size (and
faster to write and to read back), and the training augmentation recovers the exact levels. Styles
`resolutions` and `ramp` store three planes of levels as a plain RGB PNG.
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

import numpy as np

from .audio import BadAudioError, read_audio_at
from .fileio import atomic_write_bytes
from .spectrogram import (
    PLANE_STYLES,
    SpectrogramSettings,
    colormap_lut,
    fit_duration,
    levels_to_rgb,
    render_levels,
    spectrogram_db,
)

# Part of the spectrogram rules' params: a change of how images are made (not of any setting) that alters
# pixels bumps it, so existing images are rendered again instead of mixing with the new ones.
# 2: analysis-rate resampling with soxr, single-precision FFT, palette PNG.
RENDERER_VERSION = 2


def encode_levels(levels: np.ndarray, settings: SpectrogramSettings) -> bytes:
    """A rendered clip as image bytes: PNG with the colormap as palette (RGB for three planes of levels), or
    JPEG (quality 95) of its colours."""
    from PIL import Image

    buf = io.BytesIO()
    if settings.format == "png" and levels.ndim == 3:
        Image.fromarray(levels_to_rgb(levels, settings.colormap)).save(
            buf, format="PNG", compress_level=1, compress_type=zlib.Z_RLE
        )
    elif settings.format == "png":
        image = Image.fromarray(levels, mode="P")
        image.putpalette(colormap_lut(settings.colormap).tobytes())
        # zlib's run-length strategy: 3x faster than its default at level 1 here, files within 1 % of its size
        image.save(buf, format="PNG", compress_level=1, compress_type=zlib.Z_RLE)
    else:
        Image.fromarray(levels_to_rgb(levels, settings.colormap)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def render_tutorial_figure(samples: np.ndarray, settings: SpectrogramSettings) -> bytes:
    """The tutorial's rendering: a 15 x 7.5 in matplotlib figure, axes off, saved as an image.

    Kept for comparison (`spectrogram.style: tutorial`); the figure is scaled to `image_size` pixels high,
    so images are 2:1 and Ultralytics' centre crop cuts their sides, as in the tutorial.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = fit_duration(samples, settings.sample_rate, settings.duration_s)
    db = spectrogram_db(samples, settings)
    fig = plt.figure(figsize=(15, 7.5), dpi=settings.image_size / 7.5)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(db, origin="lower", aspect="auto", cmap=settings.colormap, interpolation="antialiased")
    ax.axis("off")
    buf = io.BytesIO()
    jpg = settings.format == "jpg"
    fig.savefig(buf, format="jpeg" if jpg else "png", pil_kwargs={} if jpg else {"compress_level": 1})
    plt.close(fig)
    return buf.getvalue()


def load_clip(path, settings: SpectrogramSettings) -> np.ndarray:
    """A clip's samples at the analysis rate (resampled when the file has another rate)."""
    return read_audio_at(path, settings.sample_rate)


def render_clip_image(audio_path, settings: SpectrogramSettings) -> bytes:
    """Encoded training image of one audio file."""
    samples = load_clip(audio_path, settings)
    if settings.style == "tutorial":
        return render_tutorial_figure(samples, settings)
    return encode_levels(render_levels(samples, settings), settings)


def read_levels(image_path, colormap: str, style: str = "direct") -> np.ndarray:
    """The levels of a training image: exact from a palette PNG, recovered through the colormap otherwise;
    for PLANE_STYLES the three planes (3 x H x W) that are its R, G and B channels."""
    from PIL import Image

    with Image.open(image_path) as im:
        if im.mode == "P" and style not in PLANE_STYLES:
            return np.asarray(im)
        rgb = np.asarray(im.convert("RGB"))
    if style in PLANE_STYLES:
        return np.ascontiguousarray(np.moveaxis(rgb, -1, 0))
    from .augment import levels_from_rgb

    return levels_from_rgb(rgb, colormap)


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
        Image.new("RGB", (1, 1)).save(buf, format="JPEG", comment=f"{BAD_AUDIO_KEY}: {reason}".encode())
    return buf.getvalue()


def bad_audio_reason(image_path) -> str | None:
    """The reason stored in a placeholder, or None for a real spectrogram image."""
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


def render_clips_job(audio_paths, image_paths, settings: dict, on_bad_audio: str, log_path) -> None:
    """The `spectrogram` and `spectrogram_batch` rules: render each clip, handling bad audio by policy.

    A bad file stops the job (`fail`) or becomes a placeholder (`skip`); either way its reason goes to the
    job's log, which exists only when something failed.
    """
    spec = SpectrogramSettings(**settings)
    for audio_path, image_path in zip(audio_paths, image_paths):
        try:
            atomic_write_bytes(image_path, render_clip_image(audio_path, spec))
        except BadAudioError as e:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"{e}\n")
            if on_bad_audio != "skip":
                raise
            atomic_write_bytes(image_path, bad_audio_placeholder(e.reason, spec.format))


def render_batch_job(
    folder, audio_paths, clip_ids, image_ext: str, settings: dict, on_bad_audio: str, log_path
) -> None:
    """The `spectrogram_batch` rule: a batch of clips into its own (marked) folder."""
    from .safety import mark_directory

    mark_directory(folder)
    images = [f"{folder}/{clip}.{image_ext}" for clip in clip_ids]
    render_clips_job(audio_paths, images, settings, on_bad_audio, log_path)
