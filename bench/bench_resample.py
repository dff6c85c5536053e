#!/usr/bin/env python3
"""Benchmark of the resampler: libsoxr (`soxr`, what seesound uses) against scipy's `resample_poly`.

In one run on one machine: milliseconds to resample a 5 s clip from 44.1 kHz (ESC-50 as downloaded) and
48 kHz to the 16 kHz analysis rate, and the quality at that speed: how much of a tone above the new Nyquist
frequency leaks into the output as an alias (dB; lower is better) and the gain of tones in the passband
(dB; 0 is right).

    python bench/bench_resample.py
"""

from __future__ import annotations

import time

import numpy as np
import soxr
from scipy.signal import resample_poly

OUT = 16000


def timed(f, repeats: int = 30) -> float:
    f()
    start = time.perf_counter()
    for _ in range(repeats):
        f()
    return 1000 * (time.perf_counter() - start) / repeats


def level_db(y: np.ndarray) -> float:
    y = y[2000:-2000]  # away from the edges
    return 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)) / np.sqrt(0.5) + 1e-15)


def main() -> None:
    rng = np.random.default_rng(0)
    resamplers = {
        "soxr (HQ)": lambda x, r: soxr.resample(x, r, OUT, "HQ"),
        "scipy resample_poly": lambda x, r: resample_poly(x, OUT // np.gcd(r, OUT), r // np.gcd(r, OUT)),
    }
    print(
        f"{'rate':>6}  {'resampler':<20} {'ms per 5 s clip':>16} {'alias of 9/12/20 kHz (dB)':>28} "
        f"{'gain at 1/6/7 kHz (dB)':>24}"
    )
    for rate in (44100, 48000):
        x = rng.standard_normal(5 * rate).astype(np.float32)
        t = np.arange(5 * rate) / rate
        for name, f in resamplers.items():
            ms = timed(lambda f=f, x=x, rate=rate: f(x, rate))
            alias = [level_db(f(np.sin(2 * np.pi * hz * t).astype(np.float32), rate)) for hz in (9000, 12000, 20000)]
            gain = [level_db(f(np.sin(2 * np.pi * hz * t).astype(np.float32), rate)) for hz in (1000, 6000, 7000)]
            print(
                f"{rate:>6}  {name:<20} {ms:>16.2f} {' / '.join(f'{a:.0f}' for a in alias):>28} "
                f"{' / '.join(f'{g:.2f}' for g in gain):>24}"
            )


if __name__ == "__main__":
    main()
