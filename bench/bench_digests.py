#!/usr/bin/env python3
"""What judging your files by their bytes costs: content digests against stats and against rendering.

Each job that reads a file of yours has the file's content digest as a param (seesound.fileio.
ContentDigests, README "Rerunning after changes"). The first run reads every file once more to compute it;
later runs find it in results/.seesound.digests.json and only stat the file. This measures, in one run, on
the audio files of a folder (default: ESC-50 folds 1-4, ../shared/data/esc50-f1-4/audio):
  (a) stat only: the baseline, what a run costs per file when nothing is read;
  (b) digests, first run: every file read and hashed (BLAKE2b) one after another, the cache written;
  (b2) the same on threads (ContentDigests.digest_all, as the workflow asks: up to 8, one per core);
  (c) digests, a later run: every file looked up in the cache written by (b) (a stat and a dict lookup);
  (d) rendering the same files (seesound.render.render_clip_image, default settings, in process): the
      work the first run's digests are a share of.
The files are read once before (a) so that every row reads them from the page cache, as (d) would after
(b) in a real run; a cold cache on a network file system makes (b) and (d) both slower.
Prints ms per file, MB/s and the ratios (b)/(d), (b2)/(b), (c)/(a), and writes them to
bench/digests_results.csv.

    python bench/bench_digests.py                      # ~10 s on 2 cores
    python bench/bench_digests.py --audio path/to/folder --limit 500
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

from seesound.fileio import ContentDigests
from seesound.render import render_clip_image
from seesound.spectrogram import SpectrogramSettings

REPO = Path(__file__).resolve().parents[1]
AUDIO = (".wav", ".flac", ".ogg", ".mp3")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio", type=Path, default=REPO.parent / "shared" / "data" / "esc50-f1-4" / "audio")
    parser.add_argument("--limit", type=int, default=0, help="use at most this many files (0: all)")
    parser.add_argument("--render-limit", type=int, default=400, help="files rendered for (d)")
    parser.add_argument("--csv", type=Path, default=REPO / "bench" / "digests_results.csv")
    args = parser.parse_args(argv)
    files = sorted(str(p) for p in args.audio.rglob("*") if p.suffix.lower() in AUDIO)
    if args.limit:
        files = files[: args.limit]
    if not files:
        parser.error(f"no audio files under {args.audio}")
    megabytes = sum(os.path.getsize(f) for f in files) / 1e6
    for f in files:  # into the page cache
        Path(f).read_bytes()
    settings = SpectrogramSettings.from_config({})
    rendered = files[: args.render_limit]
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "digests.json"

        def first():
            digests = ContentDigests(cache)
            for f in files:
                digests.digest(f)
            digests.save()

        def first_threaded():
            digests = ContentDigests(Path(tmp) / "threaded.json")
            digests.digest_all(files)
            digests.save()

        def later():
            digests = ContentDigests(cache)
            for f in files:
                digests.digest(f)

        rows = {
            "(a) stat only": timed(lambda: [os.stat(f) for f in files]) / len(files),
            "(b) digests, first run": timed(first) / len(files),
            f"(b2) the same, {min(8, os.cpu_count() or 1)} threads": timed(first_threaded) / len(files),
            "(c) digests, later run": timed(later) / len(files),
            "(d) rendering": timed(lambda: [render_clip_image(f, settings) for f in rendered]) / len(rendered),
        }
    print(f"{len(files)} files, {megabytes:.0f} MB ({megabytes / len(files) * 1000:.0f} kB a file) in {args.audio}")
    for name, seconds in rows.items():
        rate = f"  {megabytes / len(files) / seconds:8.0f} MB/s" if name.startswith("(b") else ""
        print(f"{name:<26} {seconds * 1000:8.3f} ms/file{rate}")
    threaded = next(v for k, v in rows.items() if k.startswith("(b2)"))
    ratios = {
        "(b)/(d)": rows["(b) digests, first run"] / rows["(d) rendering"],
        "(b2)/(b)": threaded / rows["(b) digests, first run"],
        "(c)/(a)": rows["(c) digests, later run"] / rows["(a) stat only"],
    }
    print("   ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    with open(args.csv, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["measurement", "ms_per_file", "files", "megabytes"])
        out.writerows([name, round(1000 * sec, 4), len(files), round(megabytes, 1)] for name, sec in rows.items())
        out.writerows([f"ratio {k}", round(v, 4), "", ""] for k, v in ratios.items())
    print(f"written to {args.csv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
