# Start-up work, done once: validate the config, build the clip table, small input functions.
import os
import sys
from hashlib import sha1
from pathlib import Path

from snakemake.logging import logger

sys.path.insert(0, os.path.join(workflow.basedir, "scripts"))

from seesound.config import ConfigError, validate_config
from seesound import dataset as seesound_dataset
from seesound.spectrogram import SpectrogramSettings
from seesound import layout

try:
    CFG = validate_config(config)
except ConfigError as e:
    raise WorkflowError(f"seesound: {e}") from None

RESULTS = CFG["results_dir"]
DATASET = CFG["dataset"]
SPECTROGRAM = SpectrogramSettings.from_config(CFG["spectrogram"]).as_dict()
IMAGE_EXT = CFG["spectrogram"]["format"]
TRAIN = CFG["train"]
CROSS_VALIDATE = CFG["split"]["method"] == "cv"
# the single train/val/test split (and its model) that evaluation plots and prediction use; with
# split.method cv the folds get their own splits (rules/cv.smk) and this one falls back to auto
HOLDOUT_METHOD = "auto" if CROSS_VALIDATE else CFG["split"]["method"]
# the weights evaluation and prediction use: the final epoch's, or the epoch best on the (small) val split
CHECKPOINT = TRAIN["checkpoint"]
IMGSZ = TRAIN["imgsz"] or CFG["spectrogram"]["image_size"]
PREDICT_INPUTS = CFG["predict"]["inputs"]
# a GPU is requested from the cluster only when asked for (train.gpus), never by default
GPU_REQUEST = {"gpu": TRAIN["gpus"]} | ({"gpu_model": TRAIN["gpu_model"]} if TRAIN["gpu_model"] else {}) if TRAIN["gpus"] else {}
# what metrics.json records of the run (execution knobs such as threads and resume left out)
RUN_SETTINGS = {
    "dataset": DATASET["kind"],
    "spectrogram": SPECTROGRAM,
    "split": CFG["split"],
    "train": {k: v for k, v in TRAIN.items() if k not in ("threads", "resume", "gpus", "gpu_model", "mem_mb", "runtime")},
}

ESC50_PATH = DATASET["path"] or seesound_dataset.ESC50_DEFAULT_PATH
NEEDS_ESC50_DOWNLOAD = DATASET["kind"] == "esc50" and not os.path.isfile(
    seesound_dataset.esc50_csv(ESC50_PATH)
)

wildcard_constraints:
    clip_id=".+",
    batch=r"\d+",


_clip_table_cache = {}


def clip_table():
    """The dataset's clip table (after the ESC-50 download, when one is needed)."""
    if NEEDS_ESC50_DOWNLOAD:
        checkpoints.download_esc50.get()
    if "table" not in _clip_table_cache:
        try:
            _clip_table_cache["table"] = seesound_dataset.clip_table(DATASET, RESULTS)
        except seesound_dataset.DatasetError as e:
            raise WorkflowError(f"seesound: {e}") from None
        _clip_table_cache["audio"] = dict(zip(_clip_table_cache["table"]["clip_id"], _clip_table_cache["table"]["audio"]))
        warn_about_unlisted_audio(_clip_table_cache["table"])
    return _clip_table_cache["table"]


def warn_about_unlisted_audio(table):
    """A CSV dataset's WAVs that no row names are not used: say so instead of dropping them silently."""
    if DATASET["kind"] == "csv":
        audio_dir = DATASET["audio_dir"] or os.path.join(os.path.dirname(DATASET["path"]), "audio")
    elif DATASET["kind"] == "esc50":
        audio_dir = os.path.join(ESC50_PATH, "audio")
    else:
        return
    unlisted = seesound_dataset.unlisted_audio(table, audio_dir)
    if unlisted and not DATASET["esc10_only"]:
        logger.warning(f"seesound: {len(unlisted)} WAV file(s) in {audio_dir} have no row in the CSV and are not used "
                       f"(first: {unlisted[0]})")


def clip_audio(wildcards):
    clip_table()
    try:
        return _clip_table_cache["audio"][wildcards.clip_id]
    except KeyError:
        raise WorkflowError(f"seesound: no clip {wildcards.clip_id!r} in the dataset") from None


def n_batches():
    """0: one spectrogram job per clip; else the number of spectrogram_batch jobs."""
    return layout.batch_count(len(clip_table()), CFG["spectrogram"]["clips_per_job"])


def spectrogram_image(clip_id):
    return layout.image_path(RESULTS, clip_id, IMAGE_EXT, n_batches())


def spectrogram_job_outputs(wildcards=None):
    """What the split waits for: every image, or every non-empty batch folder."""
    n = n_batches()
    if n == 0:
        return [spectrogram_image(c) for c in clip_table()["clip_id"]]
    used = sorted({layout.batch_of(c, n) for c in clip_table()["clip_id"]})
    return [f"{RESULTS}/spectrograms/{layout.batch_name(b)}" for b in used]


def batch_clips(wildcards):
    n = n_batches()
    return [c for c in clip_table()["clip_id"] if layout.batch_of(c, n) == int(wildcards.batch)]


def batch_audio(wildcards):
    clip_table()
    return [_clip_table_cache["audio"][c] for c in batch_clips(wildcards)]


def manifest_fingerprint(wildcards=None):
    """Hash of the clip table: the manifest is rewritten only when the table's content changes."""
    return sha1(seesound_dataset.manifest_text(clip_table()).encode("utf-8")).hexdigest()


def dataset_source(wildcards=None):
    return [str(seesound_dataset.esc50_csv(ESC50_PATH))] if NEEDS_ESC50_DOWNLOAD else []


def predict_audio_files():
    from seesound.prediction import find_audio_inputs

    return find_audio_inputs(PREDICT_INPUTS)


def final_outputs():
    if CROSS_VALIDATE:
        outputs = [f"{RESULTS}/cv_metrics.json", f"{RESULTS}/plots/cv_confusion_matrix.png", f"{RESULTS}/plots/cv_folds.png"]
        if PREDICT_INPUTS:
            outputs += [f"{RESULTS}/predictions.csv", f"{RESULTS}/plots/timelines"]
        return outputs
    outputs = [
        f"{RESULTS}/metrics.json",
        f"{RESULTS}/plots/confusion_matrix.png",
        f"{RESULTS}/plots/training_curves.png",
        f"{RESULTS}/plots/example_spectrograms.png",
        f"{RESULTS}/plots/dataset.png",
    ]
    if PREDICT_INPUTS:
        outputs += [f"{RESULTS}/predictions.csv", f"{RESULTS}/plots/timelines"]
    return outputs + [f"{RESULTS}/run.json"]


def run_benchmarks():
    rules = ["split", "train", "evaluate", "plot_examples", "plot_dataset"] + (["predict"] if PREDICT_INPUTS else [])
    return [f"logs/benchmarks/{r}.tsv" for r in rules]


CV = f"{RESULTS}/cv"


def cv_folds(wildcards=None):
    """The dataset's own folds when every clip has one, else 1..split.cv_folds (stratified group folds)."""
    table = clip_table()
    if len(table) and table["fold"].notna().all():
        return sorted(int(f) for f in table["fold"].unique())
    return list(range(1, CFG["split"]["cv_folds"] + 1))


def cv_fold_files(pattern):
    return lambda wildcards: [pattern.format(fold=f) for f in cv_folds()]
