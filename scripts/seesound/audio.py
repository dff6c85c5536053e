"""Reading WAV files: the one reader used for training and prediction, whole files or window by window.

A small RIFF parser instead of scipy.io.wavfile because prediction on hour-long files must read frames
at an offset without loading the rest, and because bad files need errors that say exactly what is wrong.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_ALAW = 0x0006
WAVE_FORMAT_MULAW = 0x0007
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_CODEC_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG",
    0x0055: "MP3",
    0x0092: "Dolby AC3",
}
_UNKNOWN_LENGTH = 0xFFFFFFFF  # written by streaming recorders that never patched the header


class BadAudioError(ValueError):
    """A file that cannot be used as audio; the message names the file and the reason."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class WavInfo:
    path: str
    sample_rate: int
    channels: int
    bits_per_sample: int
    format_tag: int
    block_align: int
    data_offset: int
    n_frames: int

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.sample_rate


def _parse_fmt(path, chunk: bytes) -> tuple[int, int, int, int, int]:
    if len(chunk) < 16:
        raise BadAudioError(path, "WAV 'fmt ' chunk is shorter than 16 bytes")
    format_tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", chunk[:16])
    if format_tag == WAVE_FORMAT_EXTENSIBLE:
        if len(chunk) < 40:
            raise BadAudioError(path, "WAVE_FORMAT_EXTENSIBLE header is too short")
        format_tag = struct.unpack("<H", chunk[24:26])[0]  # first two bytes of the sub-format GUID
    return format_tag, channels, rate, block_align, bits


def read_wav_info(path) -> WavInfo:
    """Parse the header of a RIFF/WAVE file without reading its samples."""
    try:
        file_size = os.path.getsize(path)
        f = open(path, "rb")
    except OSError as e:
        raise BadAudioError(path, f"cannot open file ({e.strerror})") from None
    with f:
        riff = f.read(12)
        if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            raise BadAudioError(path, "not a WAV file (no RIFF/WAVE header)")
        fmt = None
        data_offset = data_size = None
        pos = 12
        while pos + 8 <= file_size:
            f.seek(pos)
            chunk_id, size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"fmt ":
                fmt = _parse_fmt(path, f.read(size))
            elif chunk_id == b"data":
                data_offset, data_size = pos + 8, size
                if fmt is not None:
                    break
            pos += 8 + size + (size & 1)
    if fmt is None:
        raise BadAudioError(path, "WAV file has no 'fmt ' chunk")
    if data_offset is None:
        raise BadAudioError(path, "WAV file has no 'data' chunk")
    format_tag, channels, rate, block_align, bits = fmt
    if channels < 1 or rate < 1 or block_align < 1:
        raise BadAudioError(path, f"invalid WAV header ({channels} channels, {rate} Hz, block {block_align})")
    if block_align % channels:
        raise BadAudioError(path, f"inconsistent WAV header: a block of {block_align} bytes cannot hold "
                                  f"{channels} channels of equal size")
    available = file_size - data_offset
    if data_size == _UNKNOWN_LENGTH:
        data_size = available
    elif data_size > available:
        raise BadAudioError(
            path,
            f"truncated WAV: header declares {data_size} bytes of audio but only {available} are present",
        )
    return WavInfo(str(path), rate, channels, bits, format_tag, block_align, data_offset, data_size // block_align)


def _g711_table(law: str) -> np.ndarray:
    """Decoding table for 8-bit A-law / mu-law (ITU-T G.711) to float in [-1, 1]."""
    codes = np.arange(256, dtype=np.int32)
    if law == "mulaw":
        u = ~codes & 0xFF
        exponent = (u >> 4) & 0x07
        mantissa = u & 0x0F
        magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        values = np.where(u & 0x80, -magnitude, magnitude) / 32768.0
    else:
        a = codes ^ 0x55
        exponent = (a >> 4) & 0x07
        mantissa = a & 0x0F
        magnitude = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1))
        values = np.where(a & 0x80, magnitude, -magnitude) / 32768.0
    return values.astype(np.float32)


def _decode(info: WavInfo, raw: bytes) -> np.ndarray:
    """Decode interleaved sample bytes to float32 of shape (frames, channels)."""
    tag, bits, path = info.format_tag, info.bits_per_sample, info.path
    if tag == WAVE_FORMAT_PCM:
        container = info.block_align // info.channels
        if container == 1:
            x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
        elif container == 2:
            x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
        elif container == 3:
            b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            x = (np.where(v & 0x800000, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
        elif container == 4:
            x = (np.frombuffer(raw, "<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
        else:
            raise BadAudioError(path, f"unsupported PCM sample size of {container * 8} bits")
    elif tag == WAVE_FORMAT_IEEE_FLOAT:
        if bits == 32:
            x = np.frombuffer(raw, "<f4").astype(np.float32)
        elif bits == 64:
            x = np.frombuffer(raw, "<f8").astype(np.float32)
        else:
            raise BadAudioError(path, f"unsupported float sample size of {bits} bits")
        if not np.isfinite(x).all():
            raise BadAudioError(path, "contains NaN or infinite samples")
    elif tag in (WAVE_FORMAT_MULAW, WAVE_FORMAT_ALAW):
        x = _g711_table("mulaw" if tag == WAVE_FORMAT_MULAW else "alaw")[np.frombuffer(raw, np.uint8)]
    else:
        name = _CODEC_NAMES.get(tag, f"format tag 0x{tag:04X}")
        raise BadAudioError(
            path,
            f"unsupported WAV codec ({name}); convert it to PCM, e.g. `ffmpeg -i in.wav -c:a pcm_s16le out.wav`",
        )
    return x.reshape(-1, info.channels)


def read_frames(info: WavInfo, start: int = 0, count: int | None = None) -> np.ndarray:
    """Read frames [start, start+count) as mono float32 in [-1, 1] (channels averaged)."""
    start = max(0, min(start, info.n_frames))
    stop = info.n_frames if count is None else min(info.n_frames, start + count)
    try:
        with open(info.path, "rb") as f:
            f.seek(info.data_offset + start * info.block_align)
            raw = f.read((stop - start) * info.block_align)
        frames = _decode(info, raw)
    except BadAudioError:
        raise
    except (OSError, ValueError, MemoryError) as e:  # whatever else a malformed file provokes is still its fault
        raise BadAudioError(info.path, f"unreadable audio data ({type(e).__name__}: {e})") from None
    return frames[:, 0].copy() if info.channels == 1 else frames.mean(axis=1, dtype=np.float32)


def read_wav(path) -> tuple[np.ndarray, int]:
    """Read a whole WAV file as (mono float32 samples, sample rate); raise BadAudioError if unusable."""
    info = read_wav_info(path)
    if info.n_frames == 0:
        raise BadAudioError(path, "contains no audio samples (empty data chunk)")
    return read_frames(info), info.sample_rate


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (anti-aliased) from rate_in to rate_out."""
    if rate_in == rate_out:
        return samples
    from math import gcd

    from scipy.signal import resample_poly  # only runs when a target rate is set

    g = gcd(rate_in, rate_out)
    return resample_poly(samples, rate_out // g, rate_in // g).astype(np.float32)


def write_wav(path, samples: np.ndarray, sample_rate: int) -> None:
    """Write mono or (frames, channels) float samples as 16-bit PCM (used by the demo data and tests)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    pcm = (np.clip(x, -1.0, 1.0 - 1.0 / 32768) * 32768.0).round().astype("<i2")
    channels = pcm.shape[1]
    data = pcm.tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, WAVE_FORMAT_PCM, channels,
        sample_rate, sample_rate * 2 * channels, 2 * channels, 16, b"data", len(data),
    )
    from .fileio import atomic_write_bytes

    atomic_write_bytes(path, header + data)
