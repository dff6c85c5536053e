"""Classifying recordings of any length, format and sample rate: windows, decisions, detections, tables.

One recording at a time (one job each, or `predict.recordings_per_job` per job): it is read block by block
at its own rate, resampled to the model's analysis rate as a stream, cut into windows of the model's
clip length, and each window is rendered exactly like a training clip (seesound.spectrogram, with the
settings of the model card) and classified. Memory holds one batch of windows, never the recording.

A window's label is its most probable class when that probability reaches `predict.min_confidence` (or
the class's own threshold), and no label otherwise; a window of (near) digital silence gets none either.
Consecutive windows with the same label are one detection. Per recording this writes the window table,
a Raven selection table, an Audacity label track and a summary; `gather_predictions` combines them.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import BadAudioError, StreamResampler, is_audio_file, iter_blocks, read_audio_info
from .fileio import atomic_write_text
from .spectrogram import SpectrogramSettings, render_rgb

NO_LABEL = ""  # a window or a stretch of a recording with no confident label


class PredictionInputError(ValueError):
    pass


@dataclass(frozen=True)
class PredictSettings:
    """The `predict` config section, as one object the rules pass whole."""

    window_s: float | None = None  # None: the model's clip length
    hop_s: float | None = None  # None: half a window
    top_k: int = 5
    batch: int = 32
    min_confidence: float = 0.5
    class_thresholds: dict = field(default_factory=dict)
    silence_dbfs: float = -90.0
    timelines: bool = True
    time_rolls: int = 4  # each window classified at this many circular time rolls, averaged (model.Classifier)

    @classmethod
    def from_config(cls, section: dict) -> PredictSettings:
        return cls(**{k: section[k] for k in cls.__dataclass_fields__ if k in section})

    def as_dict(self) -> dict:
        return asdict(self)

    def windows_for(self, card_window_s: float) -> tuple[float, float]:
        window_s = self.window_s or card_window_s
        return window_s, self.hop_s or window_s / 2


# --- which files -------------------------------------------------------------------------------------------
def find_recordings(inputs) -> tuple[list[str], list[str]]:
    """Expand `predict.inputs` (files and folders, searched recursively) into audio files, and warnings.

    A missing input, or a folder without a single audio file, stops the run (PredictionInputError); other
    files in a folder are named in a warning. Folders reached through symlinks are read once each.
    """
    from .dataset import not_audio_warning, walk_real_dirs

    found, warnings = [], []
    for item in inputs:
        if os.path.isdir(item):
            audio, other = [], []
            for dirpath, filenames in walk_real_dirs(item):
                for name in filenames:
                    if name.startswith("."):
                        continue
                    (audio if is_audio_file(name) else other).append(os.path.join(dirpath, name))
            if not audio:
                raise PredictionInputError(f"predict.inputs: the folder {item!r} holds no audio files seesound reads")
            if other:
                warnings.append(not_audio_warning([os.path.relpath(o, item) for o in other], item))
            found += sorted(audio)
        elif os.path.lexists(item):
            found.append(item)
        else:
            raise PredictionInputError(f"predict.inputs: {item!r} does not exist")
    return list(dict.fromkeys(found)), warnings


# --- windows -----------------------------------------------------------------------------------------------
def window_starts(n_frames: int, window: int, hop: int) -> list[int]:
    """Window start frames covering the whole file; the last window ends at the file's end."""
    if n_frames <= window:
        return [0]
    starts = list(range(0, n_frames - window + 1, hop))
    if starts[-1] + window < n_frames:
        starts.append(n_frames - window)
    return starts


def analysis_windows(path, rate: int, window_s: float, hop_s: float, block_frames: int = 1 << 16):
    """Yield (start frame, window samples) of a recording at the analysis `rate`, one window at a time.

    The file is read in blocks at its own rate and resampled as a stream, so memory holds about one window
    and one block whatever the recording's length. The generator returns the duration (StopIteration.value).
    """
    info = read_audio_info(path)
    if info.n_frames == 0:
        raise BadAudioError(path, "contains no audio samples")
    window = max(1, int(round(window_s * rate)))
    hop = max(1, int(round(hop_s * rate)))
    n_out = int(round(info.n_frames * rate / info.sample_rate))
    resampler = StreamResampler(info.sample_rate, rate)
    pieces, buffered, offset = [], 0, 0  # analysis-rate samples [offset, offset + buffered) in `pieces`
    blocks, done = iter_blocks(info, block_frames), False
    for start in window_starts(n_out, window, hop):
        while not done and offset + buffered < start + window:
            block = next(blocks, None)
            done = block is None
            more = resampler(np.zeros(0, np.float32) if done else block, last=done)
            pieces.append(more)
            buffered += len(more)
        buffer = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
        piece = buffer[start - offset : start - offset + window]
        if len(piece) < window:  # the file's end (or a short file): silence, as a short clip is padded
            piece = np.concatenate([piece, np.zeros(window - len(piece), np.float32)])
        yield start, piece
        keep = min(start + hop, offset + len(buffer)) - offset  # no later window starts before start + hop
        pieces, buffered, offset = [buffer[keep:]], len(buffer) - keep, offset + keep
    return n_out / rate


def recording_overview(path, settings: SpectrogramSettings, max_columns: int = 1200):
    """A coarse spectrogram of a whole recording for plots: (dB re 1e-5 (bands, columns), column times in s).

    One analysis frame every `step` samples, read as a stream: memory holds the frames, not the audio.
    """
    from .spectrogram import frames_power, power_to_db

    info = read_audio_info(path)
    rate, n_fft = settings.sample_rate, settings.n_fft
    n_out = max(1, int(round(info.n_frames * rate / info.sample_rate)))
    step = max(settings.hop_length, -(-n_out // max_columns))
    positions = np.arange(0, max(1, n_out - n_fft + 1), step)
    resampler = StreamResampler(info.sample_rate, rate)
    frames, buffer, offset, k = [], np.zeros(0, np.float32), 0, 0
    for block in itertools.chain(iter_blocks(info, 1 << 18), [None]):
        buffer = np.concatenate(
            [buffer, resampler(np.zeros(0, np.float32) if block is None else block, last=block is None)]
        )
        while k < len(positions) and positions[k] + n_fft <= offset + len(buffer):
            # a copy: a view would keep this whole buffer alive, and one buffer per column adds up over hours
            frames.append(buffer[positions[k] - offset : positions[k] - offset + n_fft].copy())
            k += 1
        if k < len(positions):
            cut = min(positions[k], offset + len(buffer)) - offset
            buffer, offset = buffer[cut:], offset + cut
    if k < len(positions) or not frames:  # a recording shorter than one frame: zero-padded, like a clip
        frames.append(np.pad(buffer[:n_fft], (0, max(0, n_fft - len(buffer[:n_fft])))))
    db = power_to_db(frames_power(np.stack(frames)), settings)
    return db, (positions[: len(frames)] + n_fft / 2) / rate


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB re full scale (-inf for digital silence)."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def rendered_windows(classifier, path, settings: PredictSettings):
    """Yield (start frame, level in dBFS, RGB image) of each window, rendered like a training clip with the
    model card's settings; returns (StopIteration.value) the recording's duration and its analysis rate."""
    spec = classifier.card.settings()
    window_s, hop_s = settings.windows_for(classifier.card.window_s)
    window_spec = SpectrogramSettings(**{**spec.as_dict(), "duration_s": window_s})
    windows = analysis_windows(path, spec.sample_rate, window_s, hop_s)
    while True:
        try:
            start, samples = next(windows)
        except StopIteration as end:
            return end.value, spec.sample_rate
        yield start, level_dbfs(samples), render_rgb(samples, window_spec)


class WindowBatcher:
    """Classifies windows `batch` at a time across recordings (a batch of one image costs ~8x an image in a
    batch of 32), and hands each recording its probabilities once all of its windows are classified."""

    def __init__(self, classifier, batch: int):
        self.classifier, self.batch = classifier, batch
        self.pending: list[tuple[int, np.ndarray]] = []
        self.probs: dict[int, list[np.ndarray]] = {}

    def add(self, key: int, image: np.ndarray) -> None:
        self.pending.append((key, image))
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        probs = self.classifier.probabilities([image for _, image in self.pending], self.batch)
        for (key, _), p in zip(self.pending, probs):
            self.probs.setdefault(key, []).append(p)
        self.pending = []

    def waiting(self, key: int) -> bool:
        return any(k == key for k, _ in self.pending)

    def take(self, key: int) -> np.ndarray:
        return np.stack(self.probs.pop(key, [])) if key in self.probs else np.zeros((0, len(self.classifier.classes)))

    def drop(self, key: int) -> None:
        self.pending = [(k, im) for k, im in self.pending if k != key]
        self.probs.pop(key, None)


def read_windows(classifier, path, settings: PredictSettings, batcher: WindowBatcher, key: int):
    """Render every window of one recording into `batcher`; (window table, duration_s)."""
    starts, levels = [], []
    windows = rendered_windows(classifier, path, settings)
    while True:
        try:
            start, level, image = next(windows)
        except StopIteration as end:
            duration_s, rate = end.value
            break
        starts.append(start)
        levels.append(level)
        batcher.add(key, image)
    window_s, _ = settings.windows_for(classifier.card.window_s)
    start_s = np.array(starts) / rate
    return pd.DataFrame(
        {"start_s": start_s, "end_s": np.minimum(start_s + window_s, duration_s), "level_dbfs": levels}
    ), duration_s


def classify_recording(classifier, path, settings: PredictSettings):
    """(window table with start_s, end_s, level_dbfs; probabilities (windows, classes); duration_s)."""
    batcher = WindowBatcher(classifier, settings.batch)
    table, duration_s = read_windows(classifier, path, settings, batcher, 0)
    batcher.flush()
    return table, batcher.take(0), duration_s


# --- decisions ----------------------------------------------------------------------------------------------
def decide(probs: np.ndarray, classes, settings: PredictSettings, levels_dbfs) -> np.ndarray:
    """Each window's label: its best class when confident enough and not silent, else NO_LABEL."""
    best = probs.argmax(axis=1)
    thresholds = np.array([settings.class_thresholds.get(c, settings.min_confidence) for c in classes])
    confident = probs[np.arange(len(best)), best] >= thresholds[best]
    loud = np.asarray(levels_dbfs, dtype=float) > settings.silence_dbfs
    return np.where(confident & loud, np.array(classes, dtype=object)[best], NO_LABEL)


def detections(windows: pd.DataFrame, labels, probs: np.ndarray, classes) -> pd.DataFrame:
    """Consecutive windows with the same label merged: start, end, label, max and mean confidence."""
    index = {c: i for i, c in enumerate(classes)}
    rows, run = [], None
    for i, label in enumerate(list(labels) + [None]):
        if run is not None and label != run["label"]:
            conf = probs[run["first"] : i, index[run["label"]]]
            rows.append(
                {
                    "start_s": windows["start_s"].iloc[run["first"]],
                    "end_s": windows["end_s"].iloc[i - 1],
                    "label": run["label"],
                    "max_confidence": float(conf.max()),
                    "mean_confidence": float(conf.mean()),
                    "windows": i - run["first"],
                }
            )
            run = None
        if run is None and label not in (None, NO_LABEL):
            run = {"label": label, "first": i}
    return pd.DataFrame(rows, columns=["start_s", "end_s", "label", "max_confidence", "mean_confidence", "windows"])


def label_summary(found: pd.DataFrame) -> list[dict]:
    """Per label: how many detections, how long in all, with what confidence (the file-level summary)."""
    out = []
    for label, rows in found.groupby("label", sort=True):
        out.append(
            {
                "label": label,
                "detections": len(rows),
                "detected_s": round(float((rows["end_s"] - rows["start_s"]).sum()), 3),
                "max_confidence": round(float(rows["max_confidence"].max()), 4),
                "mean_confidence": round(float(np.average(rows["mean_confidence"], weights=rows["windows"])), 4),
            }
        )
    return sorted(out, key=lambda r: -r["detected_s"])


RAVEN_COLUMNS = [
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Label",
    "Confidence",
    "Mean Confidence",
]


def raven_selection_table(found: pd.DataFrame, low_hz: float, high_hz: float) -> str:
    """A Raven Pro selection table (tab-separated), one selection per detection, over the model's band."""
    lines = ["\t".join(RAVEN_COLUMNS)]
    for i, d in enumerate(found.itertuples(index=False), start=1):
        lines.append(
            "\t".join(
                [
                    str(i),
                    "Spectrogram 1",
                    "1",
                    f"{d.start_s:.3f}",
                    f"{d.end_s:.3f}",
                    f"{low_hz:.1f}",
                    f"{high_hz:.1f}",
                    str(d.label),
                    f"{d.max_confidence:.4f}",
                    f"{d.mean_confidence:.4f}",
                ]
            )
        )
    return "\n".join(lines) + "\n"


def audacity_labels(found: pd.DataFrame) -> str:
    """An Audacity label track (File > Import > Labels): start, end, label, tab-separated."""
    return "".join(
        f"{d.start_s:.6f}\t{d.end_s:.6f}\t{d.label} ({d.max_confidence:.2f})\n" for d in found.itertuples(index=False)
    )


# --- the per-recording job --------------------------------------------------------------------------------------
_classifiers: dict = {}
_classifiers_lock = threading.Lock()


def cached_classifier(model_path, device: str, time_rolls: int = 1):
    """One loaded model per process (the jobs run inside Snakemake's process): loaded once, not per file."""
    from .model import Classifier

    st = os.stat(model_path)
    # a rewritten file moves the ctime whatever its size and mtime say
    key = (os.path.realpath(model_path), st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, device, time_rolls)
    with _classifiers_lock:
        if key not in _classifiers:
            _classifiers.clear()
            _classifiers[key] = Classifier(model_path, device, time_rolls)
        return _classifiers[key]


WINDOW_COLUMNS = ["file", "start_s", "end_s", "level_dbfs", "label"]


def window_table(path, windows: pd.DataFrame, labels, probs: np.ndarray, classes, top_k: int) -> pd.DataFrame:
    k = min(top_k, len(classes))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    names = np.array(classes)
    table = pd.DataFrame(
        {
            "file": str(path),
            "start_s": windows["start_s"],
            "end_s": windows["end_s"],
            "level_dbfs": windows["level_dbfs"].round(1),
            "label": labels,
        }
    )
    for r in range(k):
        table[f"label_{r + 1}"] = names[order[:, r]]
        table[f"prob_{r + 1}"] = probs[np.arange(len(probs)), order[:, r]]
    for c, name in enumerate(classes):
        table[f"p_{name}"] = probs[:, c]
    return table


def predict_recording(classifier, audio_path, recording_id: str, outputs: dict, settings: PredictSettings) -> dict:
    """Classify one recording and write its tables (outputs: windows, selections, labels, summary)."""
    windows, probs, duration_s = classify_recording(classifier, audio_path, settings)
    return write_recording_tables(classifier, audio_path, recording_id, outputs, settings, windows, probs, duration_s)


def write_recording_tables(
    classifier,
    audio_path,
    recording_id: str,
    outputs: dict,
    settings: PredictSettings,
    windows: pd.DataFrame,
    probs: np.ndarray,
    duration_s: float,
) -> dict:
    """A classified recording's decisions and tables: windows, Raven selections, Audacity labels, summary."""
    classes = classifier.classes
    labels = decide(probs, classes, settings, windows["level_dbfs"])
    found = detections(windows, labels, probs, classes)
    spec = classifier.card.settings()
    atomic_write_text(
        outputs["windows"],
        window_table(audio_path, windows, labels, probs, classes, settings.top_k).to_csv(
            index=False, float_format="%.6f", lineterminator="\n"
        ),
    )
    atomic_write_text(outputs["selections"], raven_selection_table(found, spec.bottom_hz, spec.top_hz))
    atomic_write_text(outputs["labels"], audacity_labels(found))
    window_s, hop_s = settings.windows_for(classifier.card.window_s)
    summary = {
        "recording": recording_id,
        "file": str(audio_path),
        "status": "ok",
        "duration_s": round(duration_s, 3),
        "windows": len(windows),
        "window_s": window_s,
        "hop_s": hop_s,
        "time_rolls": classifier.time_rolls,  # what was used: 1 when the model did not learn rolls
        "silent_windows": int((windows["level_dbfs"] <= settings.silence_dbfs).sum()),
        "unlabelled_windows": int((labels == NO_LABEL).sum()),
        "labels": label_summary(found),
        "detections": found.to_dict("records"),
        "model": classifier.path,
    }
    atomic_write_text(outputs["summary"], json.dumps(summary, indent=2, default=float) + "\n")
    # no print: these jobs run in Snakemake's process, whose console shows one line per job (the summary
    # above is what a recording holds)
    return summary


def write_bad_recording(audio_path, recording_id: str, outputs: dict, reason: str) -> None:
    """Under `on_bad_audio: skip`: empty tables and a summary that says why (the gather lists it)."""
    atomic_write_text(outputs["windows"], ",".join(WINDOW_COLUMNS) + "\n")
    atomic_write_text(outputs["selections"], "\t".join(RAVEN_COLUMNS) + "\n")
    atomic_write_text(outputs["labels"], "")
    summary = {
        "recording": recording_id,
        "file": str(audio_path),
        "status": "bad audio",
        "reason": reason,
        "labels": [],
        "detections": [],
    }
    atomic_write_text(outputs["summary"], json.dumps(summary, indent=2) + "\n")


def recording_outputs(folder: str, recording_id: str) -> dict:
    """The per-recording files (one owner of the naming: the rules and the gather use it)."""
    base = f"{folder}/{recording_id}"
    return {
        "windows": f"{base}.csv",
        "selections": f"{base}.selections.txt",
        "labels": f"{base}.labels.txt",
        "summary": f"{base}.json",
    }


def predict_recordings_job(
    model_path,
    audio_paths,
    recording_ids,
    output_sets,
    settings: dict,
    device: str,
    on_bad_audio: str,
    failure_log=None,
    threads: int | None = None,
) -> None:
    """The `predict_recording` / `predict_batch` rules: each recording's windows, classified in batches across
    recordings, then each recording's tables; a bad recording fails alone (`fail`) or is listed (`skip`).
    A failure's reason is appended to `failure_log` (a log exists only for what failed)."""
    if threads:
        from .runner import use_cpu_threads

        use_cpu_threads(threads)
    log_path = failure_log
    spec = PredictSettings(**settings)
    classifier = cached_classifier(model_path, device, spec.time_rolls)
    batcher = WindowBatcher(classifier, spec.batch)
    read = []  # (key, audio, id, outputs, window table, duration): read and rendered, waiting for probabilities

    def finish(ready_only: bool) -> None:
        while read and not (ready_only and batcher.waiting(read[0][0])):
            key, audio, rid, outputs, windows, duration_s = read.pop(0)
            write_recording_tables(classifier, audio, rid, outputs, spec, windows, batcher.take(key), duration_s)

    for key, (audio_path, recording_id, outputs) in enumerate(zip(audio_paths, recording_ids, output_sets)):
        try:
            windows, duration_s = read_windows(classifier, audio_path, spec, batcher, key)
        except BadAudioError as e:
            batcher.drop(key)
            if log_path:
                Path(log_path).parent.mkdir(parents=True, exist_ok=True)
                with open(log_path, "a", encoding="utf-8") as log:
                    log.write(f"{e}\n")
            if on_bad_audio != "skip":
                raise
            write_bad_recording(audio_path, recording_id, outputs, e.reason)
            continue
        read.append((key, audio_path, recording_id, outputs, windows, duration_s))
        finish(ready_only=True)
    batcher.flush()
    finish(ready_only=False)


def predict_batch_job(
    folder, model_path, audio_paths, recordings, settings: dict, device: str, on_bad_audio: str, log_path, threads: int
) -> None:
    """The `predict_batch` rule: a batch of recordings (their ids) into its own (marked) folder."""
    from .safety import mark_directory

    mark_directory(folder)
    outputs = [recording_outputs(folder, r) for r in recordings]
    predict_recordings_job(
        model_path, audio_paths, recordings, outputs, settings, device, on_bad_audio, log_path, threads
    )


# --- the gather ----------------------------------------------------------------------------------------------
def gather_predictions(recordings, unusable, outputs: dict, settings: dict, model_path, log=print) -> dict:
    """Combine the per-recording tables: predictions.csv (every window), detections.csv, the file-level
    summary, the recordings skipped as bad audio, the list of inputs (what a later run or the report refreshes),
    and a timeline plot per recording longer than one window.

    recordings: (recording id, its recording_outputs) in input order; unusable: files refused at start-up
    under `on_bad_audio: skip` (a broken link, an unusable name), as {recording, file, reason}.
    """
    spec = PredictSettings(**settings)
    summaries = [json.loads(Path(files["summary"]).read_text()) for _, files in recordings]
    summaries += [dict(u, status="bad audio", labels=[], detections=[]) for u in unusable]
    window_csvs = [files["windows"] for _, files in recordings]
    frames = [pd.read_csv(p, dtype={"file": str, "label": str}, keep_default_na=False) for p in window_csvs]
    frames = [f for f in frames if len(f)]
    all_windows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=WINDOW_COLUMNS)
    atomic_write_text(outputs["predictions"], all_windows.to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    found = [dict(d, file=s["file"], recording=s["recording"]) for s in summaries for d in s["detections"]]
    columns = ["recording", "file", "start_s", "end_s", "label", "max_confidence", "mean_confidence", "windows"]
    atomic_write_text(
        outputs["detections"],
        pd.DataFrame(found, columns=columns).to_csv(index=False, float_format="%.4f", lineterminator="\n"),
    )
    rows = []
    for s in summaries:
        base = {
            "recording": s["recording"],
            "file": s["file"],
            "status": s["status"],
            "duration_s": s.get("duration_s"),
            "windows": s.get("windows"),
        }
        rows += [base | r for r in s["labels"]] or [base | {"label": NO_LABEL}]
    summary_columns = [
        "recording",
        "file",
        "status",
        "duration_s",
        "windows",
        "label",
        "detections",
        "detected_s",
        "max_confidence",
        "mean_confidence",
    ]
    atomic_write_text(
        outputs["summary"], pd.DataFrame(rows, columns=summary_columns).to_csv(index=False, lineterminator="\n")
    )
    bad = [
        {"recording": s["recording"], "file": s["file"], "reason": s["reason"]}
        for s in summaries
        if s["status"] != "ok"
    ]
    atomic_write_text(
        outputs["bad"],
        pd.DataFrame(bad, columns=["recording", "file", "reason"]).to_csv(index=False, lineterminator="\n"),
    )
    for b in bad:
        log(f"skipped bad audio {b['file']}: {b['reason']}")
    inputs = pd.DataFrame(
        [{"recording": s["recording"], "file": s["file"]} for s in summaries], columns=["recording", "file"]
    )
    atomic_write_text(outputs["inputs"], inputs.to_csv(index=False, lineterminator="\n"))
    from .plots import plot_prediction_timelines

    ok = [(s, csv) for s, csv in zip(summaries, window_csvs) if s["status"] == "ok"]
    plot_prediction_timelines(
        [s for s, _ in ok], [c for _, c in ok], outputs["timelines"], model_path, spec if spec.timelines else None
    )
    log(
        f"{len(summaries)} recordings, {len(all_windows)} windows, {len(found)} detections, {len(bad)} skipped as bad audio"
    )
    return {"recordings": len(summaries), "detections": len(found), "bad": len(bad)}
