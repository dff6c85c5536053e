"""Reading audio: the one reader used for training data and prediction inputs, whole files or block by block.

Decoding goes through libsndfile (`soundfile`, which ships it inside its wheel): WAV in every PCM, float,
A-law, mu-law and ADPCM flavour, RF64/W64, FLAC, OGG/Vorbis, Opus, MP3 and AIFF, with windowed reads.
For RIFF/WAVE files a small header check runs first, because libsndfile quietly accepts damage that
would make a silent, wrong training clip (a truncated file, a header whose block size cannot hold its
channels) and because its errors do not say what is wrong in words a user can act on.

Every problem a file can have is a `BadAudioError` naming the file and the reason.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np

# What datasets and prediction inputs take as audio (compared case-insensitively). One predicate for both.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".w64", ".rf64")


def is_audio_file(name: str) -> bool:
    """True for a file name seesound reads as audio (hidden files such as macOS '._x.wav' are not)."""
    base = os.path.basename(name)
    return not base.startswith(".") and base.lower().endswith(AUDIO_EXTENSIONS)


class BadAudioError(ValueError):
    """A file that cannot be used as audio; the message names the file and the reason."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    channels: int
    n_frames: int
    format: str  # libsndfile's name: WAV, FLAC, OGG, MP3, ...

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.sample_rate


# --- RIFF/WAVE header check (what libsndfile would let through, or explain badly) -----------------------
WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_CODEC_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG",
    0x0055: "MP3",
    0x0092: "Dolby AC3",
}
_DECODED_TAGS = {0x0001, 0x0003, 0x0006, 0x0007}  # PCM, IEEE float, A-law, mu-law
_UNKNOWN_LENGTH = 0xFFFFFFFF  # written by streaming recorders that never patched the header
_CONVERT_HINT = "convert it to PCM, e.g. `ffmpeg -i in.wav -c:a pcm_s16le out.wav`"


@dataclass(frozen=True)
class RiffHeader:
    format_tag: int
    channels: int


def check_riff_header(path) -> RiffHeader | None:
    """For a RIFF/WAVE file: raise BadAudioError on a damaged header; None for files of other formats.

    A '.wav' file that is not RIFF/WAVE at all is refused here too (libsndfile would read a FLAC stream
    named .wav, but a text or HTML file saved as .wav is a mistake the user should hear about plainly).
    """
    try:
        file_size = os.path.getsize(path)
        f = open(path, "rb")
    except OSError as e:
        raise BadAudioError(path, f"cannot open file ({e.strerror})") from None
    with f:
        riff = f.read(12)
        if riff[:4] in (b"RF64", b"BW64"):  # 64-bit variants: libsndfile checks them
            return None
        if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            if str(path).lower().endswith(".wav") and riff[:4] not in (b"fLaC", b"OggS", b"FORM"):
                raise BadAudioError(path, "not a WAV file (no RIFF/WAVE header)")
            return None
        fmt = None
        data_offset = data_size = None
        pos = 12
        while pos + 8 <= file_size:
            f.seek(pos)
            chunk_id, size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"fmt ":
                fmt = f.read(size)
            elif chunk_id == b"data":
                data_offset, data_size = pos + 8, size
                if fmt is not None:
                    break
            pos += 8 + size + (size & 1)
    if fmt is None:
        raise BadAudioError(path, "WAV file has no 'fmt ' chunk")
    if len(fmt) < 16:
        raise BadAudioError(path, "WAV 'fmt ' chunk is shorter than 16 bytes")
    if data_offset is None:
        raise BadAudioError(path, "WAV file has no 'data' chunk")
    format_tag, channels, rate, _byte_rate, block_align, _bits = struct.unpack("<HHIIHH", fmt[:16])
    if format_tag == WAVE_FORMAT_EXTENSIBLE:
        if len(fmt) < 40:
            raise BadAudioError(path, "WAVE_FORMAT_EXTENSIBLE header is too short")
        format_tag = struct.unpack("<H", fmt[24:26])[0]  # first two bytes of the sub-format GUID
    if channels < 1 or rate < 1 or block_align < 1:
        raise BadAudioError(path, f"invalid WAV header ({channels} channels, {rate} Hz, block {block_align})")
    if format_tag in _DECODED_TAGS and block_align % channels:
        raise BadAudioError(
            path,
            f"inconsistent WAV header: a block of {block_align} bytes cannot hold {channels} channels of equal size",
        )
    available = file_size - data_offset
    if data_size != _UNKNOWN_LENGTH and data_size > available:
        raise BadAudioError(
            path,
            f"truncated WAV: header declares {data_size} bytes of audio but only {available} are present",
        )
    return RiffHeader(format_tag, channels)


def _open_failure(path, header: RiffHeader | None, error: Exception) -> BadAudioError:
    """The sentence for a file libsndfile cannot open."""
    detail = str(error).split(": ", 1)[-1].strip() or type(error).__name__
    if header is not None and header.format_tag not in _DECODED_TAGS:
        name = _CODEC_NAMES.get(header.format_tag, f"format tag 0x{header.format_tag:04X}")
        return BadAudioError(
            path, f"unsupported WAV codec ({name}): libsndfile cannot decode it ({detail}); {_CONVERT_HINT}"
        )
    if header is not None:
        return BadAudioError(path, f"unreadable WAV file (libsndfile: {detail})")
    return BadAudioError(
        path,
        f"not a readable audio file (libsndfile: {detail}); seesound reads "
        f"{', '.join(e[1:] for e in AUDIO_EXTENSIONS)}",
    )


def read_audio_info(path) -> AudioInfo:
    """The rate, channels and length of an audio file, without decoding its samples."""
    import soundfile

    header = check_riff_header(path)
    try:
        info = soundfile.info(str(path))
    except Exception as e:  # LibsndfileError, RuntimeError, TypeError on odd files: all the file's fault
        raise _open_failure(path, header, e) from None
    if info.samplerate < 1 or info.channels < 1:
        raise BadAudioError(path, f"invalid header ({info.channels} channels, {info.samplerate} Hz)")
    return AudioInfo(str(path), int(info.samplerate), int(info.channels), max(0, int(info.frames)), str(info.format))


def _mono(frames: np.ndarray, path) -> np.ndarray:
    if not np.isfinite(frames).all():
        raise BadAudioError(path, "contains NaN or infinite samples")
    return frames[:, 0].copy() if frames.shape[1] == 1 else frames.mean(axis=1, dtype=np.float32)


def read_frames(info: AudioInfo, start: int = 0, count: int | None = None) -> np.ndarray:
    """Frames [start, start+count) as mono float32 in [-1, 1] (channels averaged)."""
    import soundfile

    start = max(0, min(start, info.n_frames))
    stop = info.n_frames if count is None else min(info.n_frames, start + count)
    try:
        with soundfile.SoundFile(info.path) as f:
            if start:
                f.seek(start)
            frames = f.read(stop - start, dtype="float32", always_2d=True)
    except BadAudioError:
        raise
    except Exception as e:  # whatever a malformed file provokes is still its fault
        raise BadAudioError(info.path, f"unreadable audio data ({type(e).__name__}: {e})") from None
    return _mono(frames, info.path)


def iter_blocks(info: AudioInfo, block_frames: int):
    """Mono float32 blocks of `block_frames` frames (the last one shorter), read one at a time."""
    import soundfile

    try:
        with soundfile.SoundFile(info.path) as f:
            while True:
                frames = f.read(block_frames, dtype="float32", always_2d=True)
                if not len(frames):
                    return
                yield _mono(frames, info.path)
    except BadAudioError:
        raise
    except Exception as e:
        raise BadAudioError(info.path, f"unreadable audio data ({type(e).__name__}: {e})") from None


def read_audio(path) -> tuple[np.ndarray, int]:
    """A whole file as (mono float32 samples, sample rate); raise BadAudioError if unusable."""
    import soundfile

    header = check_riff_header(path)
    try:
        f = soundfile.SoundFile(str(path))
    except Exception as e:
        raise _open_failure(path, header, e) from None
    try:
        with f:
            rate = int(f.samplerate)
            frames = f.read(dtype="float32", always_2d=True)
    except Exception as e:
        raise BadAudioError(path, f"unreadable audio data ({type(e).__name__}: {e})") from None
    if not len(frames):
        raise BadAudioError(path, "contains no audio samples")
    return _mono(frames, path), rate


def read_audio_at(path, sample_rate: int) -> np.ndarray:
    """A whole file as mono float32 at `sample_rate` (resampled when the file has another rate)."""
    samples, rate = read_audio(path)
    return resample(samples, rate, sample_rate)


# soxr's "high quality" setting: 4x faster than scipy's resample_poly here, with ~140 dB alias rejection
# against ~30-70 dB (bench/bench_resample.py measures both)
RESAMPLE_QUALITY = "HQ"


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (libsoxr) of a whole mono signal from rate_in to rate_out."""
    if rate_in == rate_out:
        return samples
    import soxr

    return soxr.resample(np.asarray(samples, np.float32), rate_in, rate_out, RESAMPLE_QUALITY).astype(
        np.float32, copy=False
    )


class StreamResampler:
    """Resampling a long recording block by block (bounded memory); the output equals one whole-signal pass
    up to the filter's edge handling."""

    def __init__(self, rate_in: int, rate_out: int):
        self.passthrough = rate_in == rate_out
        if not self.passthrough:
            import soxr

            self.stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality=RESAMPLE_QUALITY)

    def __call__(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        if self.passthrough:
            return block
        return self.stream.resample_chunk(np.asarray(block, np.float32), last=last)


def write_wav(path, samples: np.ndarray, sample_rate: int) -> None:
    """Write mono or (frames, channels) float samples as 16-bit PCM, atomically (demo data and tests)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    pcm = (np.clip(x, -1.0, 1.0 - 1.0 / 32768) * 32768.0).round().astype("<i2")
    channels = pcm.shape[1]
    data = pcm.tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        WAVE_FORMAT_PCM,
        channels,
        sample_rate,
        sample_rate * 2 * channels,
        2 * channels,
        16,
        b"data",
        len(data),
    )
    from .fileio import atomic_write_bytes

    atomic_write_bytes(path, header + data)
