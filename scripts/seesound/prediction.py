"""Classifying recordings of any length: sliding windows, each rendered like a training clip.

Windows are read from disk one batch at a time, so an hour-long file needs memory for one batch of
windows, never for the whole recording or its whole spectrogram.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import read_frames, read_wav_info, resample, BadAudioError
from .fileio import atomic_write_text
from .model import class_names, classify_rgb, load_classifier, resolve_device
from .spectrogram import SpectrogramSettings, render_rgb


def find_audio_inputs(inputs) -> list[str]:
    """Expand files and folders (searched recursively for .wav/.WAV) into a sorted list of WAV files."""
    found = []
    for item in inputs:
        if os.path.isdir(item):
            for dirpath, dirnames, filenames in os.walk(item):
                dirnames.sort()
                found += [os.path.join(dirpath, n) for n in sorted(filenames) if n.lower().endswith(".wav") and not n.startswith(".")]
        else:
            found.append(item)
    return found


def window_starts(n_frames: int, window: int, hop: int) -> list[int]:
    """Window start frames covering the whole file; the last window ends at the file's end."""
    if n_frames <= window:
        return [0]
    starts = list(range(0, n_frames - window + 1, hop))
    if starts[-1] + window < n_frames:
        starts.append(n_frames - window)
    return starts


def predict_file(model, path, settings: SpectrogramSettings, window_s: float, hop_s: float, imgsz: int,
                 batch: int, device: str):
    """(window table, probabilities) for one recording."""
    info = read_wav_info(path)
    if info.n_frames == 0:
        raise BadAudioError(path, "contains no audio samples (empty data chunk)")
    window = max(1, int(round(window_s * info.sample_rate)))
    hop = max(1, int(round(hop_s * info.sample_rate)))
    starts = window_starts(info.n_frames, window, hop)
    # every window is rendered at the training clips' duration (short files are padded with silence)
    window_settings = SpectrogramSettings(**{**settings.as_dict(), "duration_s": window_s})
    probs = []
    for b in range(0, len(starts), batch):
        images = []
        for s in starts[b : b + batch]:
            samples, rate = read_frames(info, s, window), info.sample_rate
            if settings.sample_rate is not None and settings.sample_rate != rate:
                samples, rate = resample(samples, rate, settings.sample_rate), settings.sample_rate
            images.append(render_rgb(samples, rate, window_settings))
        probs.append(classify_rgb(model, images, imgsz, batch, device))
    starts_s = np.array(starts) / info.sample_rate
    ends_s = np.minimum(np.array(starts) + window, info.n_frames) / info.sample_rate
    return pd.DataFrame({"start_s": starts_s, "end_s": ends_s}), np.concatenate(probs)


def predict_files(weights_pt, audio_files, predictions_csv, settings: SpectrogramSettings, window_s, hop_s, top_k,
                  imgsz, batch, device) -> pd.DataFrame:
    """The predict rule: one row per file and window with the top-k labels, plus the file's label."""
    device = resolve_device(device)
    model = load_classifier(weights_pt)
    names = np.array(class_names(model))
    k = min(top_k, len(names))
    tables = []
    for path in audio_files:
        windows, probs = predict_file(model, path, settings, window_s, hop_s, imgsz, batch, device)
        mean = probs.mean(axis=0)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        table = pd.DataFrame({"file": str(path), "start_s": windows["start_s"], "end_s": windows["end_s"]})
        for r in range(k):
            table[f"label_{r + 1}"] = names[order[:, r]]
            table[f"prob_{r + 1}"] = probs[np.arange(len(probs)), order[:, r]]
        table["file_label"] = names[int(mean.argmax())]
        table["file_prob"] = float(mean.max())
        for c, name in enumerate(names):
            table[f"p_{name}"] = probs[:, c]
        tables.append(table)
        print(f"[seesound] {path}: {len(table)} windows -> {names[int(mean.argmax())]} ({mean.max():.2f})", flush=True)
    columns = ["file", "start_s", "end_s"] + [f"{x}_{r + 1}" for r in range(k) for x in ("label", "prob")] + ["file_label", "file_prob"] + [f"p_{n}" for n in names]
    result = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
    atomic_write_text(predictions_csv, result.to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    return result


def predict_from_rule(weights_pt, split_summary_json, audio_files, predictions_csv, timelines_dir, settings: dict,
                      window_s, hop_s, top_k, batch, imgsz, device) -> pd.DataFrame:
    """The predict rule: window length defaults to the training clips' median duration, hop to half of it."""
    import json

    spec = SpectrogramSettings(**settings)
    if window_s is None:
        window_s = spec.duration_s or json.loads(Path(split_summary_json).read_text())["median_duration_s"]
    hop_s = hop_s or window_s / 2
    print(f"[seesound] windows of {window_s:g} s every {hop_s:g} s", flush=True)
    result = predict_files(weights_pt, audio_files, predictions_csv, spec, window_s, hop_s, top_k, imgsz, batch, device)
    from .plots import plot_prediction_timelines

    plot_prediction_timelines(predictions_csv, timelines_dir)
    return result
