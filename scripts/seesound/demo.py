"""The demo dataset: five classes of clearly different synthetic sounds, made offline and deterministically.

tone, siren, noise_burst, click_train and harmonic_call, each with random pitch, timing, loudness and
background noise (`dataset.kind: demo`; its recordings are the workflow's own output, results/demo/).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .audio import write_wav

DEMO_CLASSES = ["tone", "siren", "noise_burst", "click_train", "harmonic_call"]


def synthesize_demo_clip(label: str, index: int, duration_s: float, sample_rate: int, seed: int) -> np.ndarray:
    """One demo recording: a sound event of class `label` with random pitch, timing, loudness and noise."""
    rng = np.random.default_rng([seed, DEMO_CLASSES.index(label), index])
    n = int(round(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    start = rng.uniform(0.0, 0.4) * duration_s
    length = rng.uniform(0.35, 0.6) * duration_s
    inside = (t >= start) & (t < start + length)
    envelope = np.zeros(n)
    ramp = np.clip(np.minimum(t - start, start + length - t) / 0.02, 0.0, 1.0)
    envelope[inside] = ramp[inside]
    nyquist = sample_rate / 2
    if label == "tone":
        f = rng.uniform(300, min(3000, 0.8 * nyquist))
        event = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    elif label == "siren":
        f0, depth, rate = rng.uniform(500, min(1500, 0.4 * nyquist)), rng.uniform(200, 600), rng.uniform(0.5, 3.0)
        freq = f0 + depth * np.sin(2 * np.pi * rate * t)
        event = np.sin(2 * np.pi * np.cumsum(freq) / sample_rate)
    elif label == "noise_burst":
        bursts = np.zeros(n)
        for _ in range(rng.integers(2, 6)):
            b0 = rng.uniform(start, start + length)
            bursts[(t >= b0) & (t < b0 + rng.uniform(0.05, 0.3))] = 1.0
        event = rng.standard_normal(n) * bursts
    elif label == "click_train":
        period = int(sample_rate / rng.uniform(5, 40))
        event = np.zeros(n)
        event[::period] = 1.0
        event = np.convolve(event, np.exp(-np.arange(64) / 6.0), mode="same") * 2.0
    elif label == "harmonic_call":
        f0 = rng.uniform(150, 600)
        contour = f0 * (1 + 0.3 * np.sin(np.pi * np.clip((t - start) / length, 0, 1)))
        phase = 2 * np.pi * np.cumsum(contour) / sample_rate
        event = sum((0.7**k) * np.sin(k * phase) for k in range(1, 7) if k * f0 * 1.3 < nyquist)
    else:
        raise ValueError(f"unknown demo class {label!r}")
    event = event / (np.max(np.abs(event)) + 1e-12) * envelope * rng.uniform(0.2, 0.9)
    snr_db = rng.uniform(5, 25)
    white = rng.standard_normal(n)
    noise = white + 4.0 * np.convolve(white, np.ones(64) / 8.0, mode="same")  # hiss plus low-frequency rumble
    noise *= np.sqrt(np.mean(event[inside] ** 2) + 1e-12) / (np.std(noise) + 1e-12) / 10 ** (snr_db / 20)
    mix = event + noise
    return (mix / max(1.0, np.abs(mix).max() / 0.95)).astype(np.float32)


def write_demo_audio(wav_paths, labels, duration_s: float, sample_rate: int, seed: int) -> None:
    """Write the demo recordings (one per path; the index is taken from the file name's number)."""
    for path, label in zip(wav_paths, labels):
        index = int(Path(path).stem.rsplit("_", 1)[1])
        write_wav(path, synthesize_demo_clip(label, index, duration_s, sample_rate, seed), sample_rate)
