# Start-up work, done on every invocation (dry runs included) before any job runs: validate the config,
# check that results_dir cannot touch the user's files, build and check the clip table.
import atexit
import os
import sys
from hashlib import sha1
from pathlib import Path

from snakemake.logging import logger

SCRIPTS_DIR = os.path.join(workflow.basedir, "scripts")
sys.path.insert(0, SCRIPTS_DIR)
# Script jobs (train, evaluate, split, plots) run in a Python of their own that puts scripts/ after
# site-packages, where an editable install of another checkout would win: this checkout's code goes first.
# (Set, not required: `update` keeps Snakemake's linter from asking for an envvars directive.)
if os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] != SCRIPTS_DIR:
    os.environ.update(
        PYTHONPATH=os.pathsep.join(
            [SCRIPTS_DIR, *filter(None, [os.environ.get("PYTHONPATH")])]
        )
    )

from seesound.config import ConfigError, config_notes, validate_config
from seesound import dataset as seesound_dataset
from seesound import demo as seesound_demo
from seesound import layout, names, safety
from seesound.fileio import ContentDigests
from seesound import report as seesound_report
from seesound.prediction import (
    PredictSettings,
    PredictionInputError,
    find_recordings,
    recording_outputs,
)
from seesound.render import RENDERER_VERSION
from seesound.spectrogram import SpectrogramSettings
from seesound.split import SplitSettings
from seesound.training import TrainSettings
from seesound.scheduler_fix import (
    graceful_exit_outside_the_signal_handler,
    one_pending_reevaluation,
)

one_pending_reevaluation()  # Snakemake's scheduler otherwise wakes ~once a second per finished job (module doc)
graceful_exit_outside_the_signal_handler()  # Snakemake's SIGTERM handler otherwise can deadlock (module doc)


def stop(message):
    """A start-up error: one sentence, no traceback."""
    raise WorkflowError(f"seesound: {message}")


try:
    CFG = validate_config(config)
except ConfigError as e:
    stop(e)
for note in config_notes(config):
    logger.warning(f"seesound: {note}")

RESULTS = os.path.normpath(CFG["results_dir"])
LOGS = f"{RESULTS}/logs"
DATASET = CFG["dataset"]
# what identifies the dataset (on_bad_audio and url do not change which clips it has)
DATASET_IDENTITY = {
    k: DATASET[k] for k in ("kind", "path", "audio_dir", "esc10_only", "demo")
}
SPECTROGRAM = SpectrogramSettings.from_config(CFG["spectrogram"]).as_dict()
# the spectrogram rules' params: every image setting, and the renderer's version (a change of how pixels are
# made renders every image again instead of mixing old and new ones)
RENDER_PARAMS = {"settings": SPECTROGRAM, "renderer": RENDERER_VERSION}
IMAGE_EXT = CFG["spectrogram"]["format"]
TRAIN = CFG["train"]
CROSS_VALIDATE = CFG["split"]["method"] == "cv"
# the single train/val/test split (and its model) that evaluation plots and prediction use; with
# split.method cv the folds get their own splits (rules/cv.smk) and this one falls back to auto
HOLDOUT_METHOD = "auto" if CROSS_VALIDATE else CFG["split"]["method"]
# the holdout split's settings; a cross-validation fold's are these with method cv and its fold (cv.smk)
SPLIT = SplitSettings.holdout(CFG["split"], HOLDOUT_METHOD)
# the weights evaluation and prediction use: the final epoch's, or the epoch best on the (small) val split
CHECKPOINT = TRAIN["checkpoint"]
# models trained with seeds train.seed, train.seed + 1, ... whose probabilities are averaged (rules/train.smk)
ENSEMBLE = TRAIN["ensemble"]
IMGSZ = TRAIN["imgsz"] or CFG["spectrogram"]["image_size"]
# every setting that changes a trained model (the train and cv_train rules take it whole)
TRAINING = TrainSettings.from_config(TRAIN, SPECTROGRAM, IMGSZ)
# the content digest of each file of the user's, cached in results_dir across invocations; only the main
# process keeps the cache (a cluster job's own parse reads just its files)
# (absolute: Snakemake may have left the working directory by the time the cache is saved at exit)
RESULTS_ABSOLUTE = os.path.abspath(RESULTS)
CONTENT_DIGESTS = ContentDigests(
    f"{RESULTS_ABSOLUTE}/.seesound.digests.json" if workflow.is_main_process else None
)


def save_content_digests():
    """At exit, however the invocation ends (nothing to be done and dry runs included, which run no hook),
    into a results_dir that exists: a dry run creates none. `onstart` saves too, before a long run.
    """
    if os.path.isdir(RESULTS_ABSOLUTE):
        CONTENT_DIGESTS.save()


_digests = {}


def file_digests(paths):
    """A params value: the content digest of each file of the user's that a job reads (seesound.fileio.
    ContentDigests), so the job reruns exactly when a file's bytes change, whatever its modification time
    says. The job's input is `ancient` for the same reason (users_file). Each file is looked at once per
    invocation: the manifest's fingerprint, the DAG build and the job's start share it. A file not there yet
    (the demo's audio, made by a job) is asked again: the job's start records it as made.
    """
    paths = list(paths)
    unknown = [p for p in paths if p not in _digests]
    if unknown:  # a job's params after the DAG build: memo hits only
        for p, digest in zip(unknown, CONTENT_DIGESTS.digest_all(unknown)):
            if digest is not None:
                _digests[p] = digest
    return [_digests.get(p) for p in paths]


def users_file(path):
    """An input that is a file of the user's: judged by its bytes (file_digests, a param), not by its time,
    so a `touch` or a copy that did not keep times reruns nothing."""
    return ancient(path)


# a checkpoint to fine-tune from is an input of the training (a new file there retrains); an Ultralytics
# name it downloads (yolov8n-cls.pt) and an architecture (.yaml) are settings only
STARTING_WEIGHTS = (
    {"starting_weights": users_file(str(Path(TRAIN["model"]).expanduser()))}
    if TRAIN["model"].endswith(".pt") and Path(TRAIN["model"]).expanduser().is_file()
    else {}
)
# ... and its digest a param: a replacement that kept an older time retrains
STARTING_WEIGHTS_DIGEST = (
    {"starting_weights_digest": file_digests(STARTING_WEIGHTS.values())}
    if STARTING_WEIGHTS
    else {}
)
PREDICT_INPUTS = CFG["predict"]["inputs"]
# every setting that changes a prediction (the model file itself is an input of the prediction jobs)
PREDICT = PredictSettings.from_config(CFG["predict"]).as_dict()
# a GPU is requested from the cluster only when asked for (train.gpus), never by default
GPU_REQUEST = (
    {"gpu": TRAIN["gpus"]}
    | ({"gpu_model": TRAIN["gpu_model"]} if TRAIN["gpu_model"] else {})
    if TRAIN["gpus"]
    else {}
)
# what metrics.json records of the run (execution knobs such as threads and resume left out)
RUN_SETTINGS = {
    "dataset": DATASET_IDENTITY,
    "spectrogram": SPECTROGRAM,
    "split": CFG["split"],
    "train": {
        k: v
        for k, v in TRAIN.items()
        if k not in ("threads", "resume", "gpus", "gpu_model", "mem_mb", "runtime")
    },
}

ESC50_PATH = str(seesound_dataset.esc50_root(DATASET, RESULTS))
NEEDS_ESC50_DOWNLOAD = DATASET["kind"] == "esc50" and not os.path.isfile(
    seesound_dataset.esc50_csv(ESC50_PATH)
)

# --- results_dir must never touch what the workflow did not create -------------------------------------
try:
    safety.check_results_dir(
        RESULTS,
        os.getcwd(),
        workflow.basedir,
        [
            ("dataset.path", p)
            for p in seesound_dataset.user_data_paths(DATASET, RESULTS)
        ]
        + [("predict.inputs", p) for p in PREDICT_INPUTS]
        + [("train.model", p) for p in STARTING_WEIGHTS.values()],
    )
    # Snakemake deletes a directory output before rewriting it: every such path that exists must be ours
    safety.check_directory_outputs(
        [
            f"{RESULTS}/dataset",
            f"{RESULTS}/plots/timelines",
            f"{RESULTS}/model/checkpoints",
        ]
        + [str(p) for p in Path(RESULTS).glob("predictions/batch*")]
        + [str(p) for p in Path(RESULTS).glob("cv/fold*/dataset")]
        + [str(p) for p in Path(RESULTS).glob("cv/fold*/model/checkpoints")]
        + [str(p) for p in Path(RESULTS).glob("spectrograms/batch*")]
    )
except safety.SafetyError as e:
    stop(e)

# two working directories must not write one results_dir at once (taken in `onstart`, not for dry runs)
RESULTS_LOCK = safety.ResultsLock(RESULTS)
# the digest cache is written only into a results_dir that passed the checks above
atexit.register(save_content_digests)


wildcard_constraints:
    clip_id=".+",
    recording=".+",
    batch=r"\d+",


def load_clip_table():
    """The dataset's clip table, checked, with each usable clip's image path; warnings logged."""
    try:
        table = seesound_dataset.clip_table(DATASET, RESULTS)
        seesound_dataset.check_problems(table, DATASET["on_bad_audio"])
    except seesound_dataset.DatasetError as e:
        stop(e)
    n = layout.batch_count(len(table), CFG["spectrogram"]["clips_per_job"])
    table["image"] = [
        "" if problem else layout.image_path(RESULTS, c, IMAGE_EXT, n)
        for c, problem in zip(table["clip_id"], table["problem"])
    ]
    for message in table.attrs.get("warnings", []) + unlisted_audio_warnings(table):
        logger.warning(f"seesound: {message}")
    return table


def unlisted_audio_warnings(table):
    """A CSV dataset's WAVs that no row names are not used: say so instead of dropping them silently."""
    if DATASET["kind"] not in ("csv", "esc50") or DATASET["esc10_only"]:
        return []
    if DATASET["kind"] == "csv":
        audio_dir = DATASET["audio_dir"] or os.path.join(
            os.path.dirname(DATASET["path"]), "audio"
        )
    else:
        audio_dir = os.path.join(ESC50_PATH, "audio")
    unlisted = seesound_dataset.unlisted_audio(table, audio_dir)
    if not unlisted:
        return []
    return [
        f"{len(unlisted)} WAV file(s) in {audio_dir} have no row in the CSV and are not used (first: {unlisted[0]})"
    ]


# built now, so that any dataset error stops every invocation, whatever results_dir already holds
_TABLE = None if NEEDS_ESC50_DOWNLOAD else load_clip_table()


def clip_table():
    """The clip table (after the ESC-50 download, when one is needed)."""
    global _TABLE
    if _TABLE is None:
        checkpoints.download_esc50.get()
        _TABLE = load_clip_table()
    return _TABLE


_lookup = {}


def usable_clips():
    """clip_id -> (audio, image) of the clips that get a spectrogram job."""
    if "usable" not in _lookup:
        table = clip_table()
        good = table[table["problem"] == ""]
        _lookup["usable"] = dict(
            zip(good["clip_id"], zip(good["audio"], good["image"]))
        )
    return _lookup["usable"]


def dataset_file(path):
    """A dataset recording as an input: the user's (users_file), or the demo's, made by a job of this
    workflow (a plain input, so that a new demo renders again)."""
    return path if DATASET["kind"] == "demo" else users_file(path)


def clip_audio(wildcards):
    try:
        return dataset_file(usable_clips()[wildcards.clip_id][0])
    except KeyError:
        stop(f"no clip {wildcards.clip_id!r} in the dataset")


def n_batches():
    """0: one spectrogram job per clip; else the number of spectrogram_batch jobs."""
    return layout.batch_count(len(clip_table()), CFG["spectrogram"]["clips_per_job"])


def spectrogram_job_outputs(wildcards=None):
    """What the split waits for: every image, or every non-empty batch folder."""
    n = n_batches()
    if n == 0:
        return [image for _audio, image in usable_clips().values()]
    used = sorted({layout.batch_of(c, n) for c in usable_clips()})
    return [f"{RESULTS}/spectrograms/{layout.batch_name(b)}" for b in used]


def batch_clips(wildcards):
    n = n_batches()
    return [c for c in usable_clips() if layout.batch_of(c, n) == int(wildcards.batch)]


def batch_audio(wildcards):
    clips = usable_clips()
    return [dataset_file(clips[c][0]) for c in batch_clips(wildcards)]


def manifest_fingerprint(wildcards=None):
    """Hash of the clip table and of each audio file's content digest: editing the CSV, adding, removing,
    relabelling or changing a recording changes it, so the manifest (and all after it) is rebuilt.
    """
    table = clip_table()
    digest = sha1(seesound_dataset.manifest_text(table).encode("utf-8"))
    if DATASET["kind"] != "demo":  # the demo's audio is the workflow's own output
        digest.update(repr(file_digests(table["audio"])).encode())
    return digest.hexdigest()


def dataset_source(wildcards=None):
    return [str(seesound_dataset.esc50_csv(ESC50_PATH))] if NEEDS_ESC50_DOWNLOAD else []


def model_files(root):
    """Where a trained model lives below `root` (results_dir, or a cross-validation fold's folder):
    Ultralytics' working folder (never a declared output: resume reads it after an interruption), what
    the train rule produces, and what install_model installs for evaluation and prediction. Each weights
    file carries its model card; model_card.json is a readable copy.

    With train.ensemble N > 1 the train rule's model is the ensemble's first member; members 2..N train in
    model/members/<k>/ (train_member, `{member}` in the paths) and combine_members averages them into
    model/ensemble/, which install_model then installs ("trained" is what it installs either way).
    """

    def finished(folder):
        files = {
            "best": f"{folder}/best.pt",
            "last": f"{folder}/last.pt",
            "results_csv": f"{folder}/results.csv",
            "card": f"{folder}/model_card.json",
        }
        if TRAIN["export"]:
            files |= {
                "best_onnx": f"{folder}/best.onnx",
                "last_onnx": f"{folder}/last.onnx",
            }
        return files

    installed = {
        "best": f"{root}/model/weights/best.pt",
        "last": f"{root}/model/weights/last.pt",
        "results_csv": f"{root}/model/results.csv",
        "card": f"{root}/model/model_card.json",
    }
    if TRAIN["export"]:
        installed |= {
            "best_onnx": f"{root}/model/weights/best.onnx",
            "last_onnx": f"{root}/model/weights/last.onnx",
        }
    first = finished(f"{root}/model/trained")
    ensemble = finished(f"{root}/model/ensemble")
    return {
        "checkpoints": f"{root}/model/checkpoints",
        "first": first,
        "member_checkpoints": f"{root}/model/members/{{member}}/checkpoints",
        "member": finished(f"{root}/model/members/{{member}}/trained"),
        "ensemble": ensemble,
        "trained": first if ENSEMBLE == 1 else ensemble,
        "installed": installed,
    }


def ensemble_member_files(files):
    """combine_members' inputs: every member's finished files, member by member in `files["first"]`'s key
    order (other wildcards, a fold's, left for Snakemake to fill in)."""
    members = [files["first"]] + [
        {key: path.replace("{member}", str(k)) for key, path in files["member"].items()}
        for k in range(2, ENSEMBLE + 1)
    ]
    return [member[key] for member in members for key in files["first"]]


MODEL = model_files(RESULTS)


# --- prediction: which recordings, with which model ---------------------------------------------------------
PREDICTIONS = f"{RESULTS}/predictions"
PREDICTION_INPUTS_CSV = (
    f"{RESULTS}/prediction_inputs.csv"  # what the last prediction run classified
)
# a model file of the user's (predict.model): its digest is a param of the prediction jobs (file_digests)
USER_PREDICT_MODEL = [CFG["predict"]["model"]] if CFG["predict"]["model"] else []
# predict.model, else the workflow's own model (its ONNX export with predict.engine: onnx)
PREDICT_MODEL = (
    users_file(CFG["predict"]["model"])
    if CFG["predict"]["model"]
    else MODEL["installed"][
        CHECKPOINT + ("_onnx" if CFG["predict"]["engine"] == "onnx" else "")
    ]
)


def prediction_recordings():
    """recording id -> audio file of what to classify, and the files that cannot be used at all.

    predict.inputs when given; otherwise the recordings of the last prediction run (results/
    prediction_inputs.csv), so that later runs and the report keep those predictions up to date with the
    model, as long as their audio is still there.
    """
    import pandas as pd

    if PREDICT_INPUTS:
        try:
            files, warnings = find_recordings(PREDICT_INPUTS)
        except PredictionInputError as e:
            stop(e)
        for message in warnings:
            logger.warning(f"seesound: {message}")
    elif os.path.isfile(PREDICTION_INPUTS_CSV):
        files = list(
            pd.read_csv(PREDICTION_INPUTS_CSV, dtype=str, keep_default_na=False)["file"]
        )
        gone = [f for f in files if not os.path.lexists(f)]
        if gone:
            logger.warning(
                f"seesound: {len(gone)} of the {len(files)} recordings of the last prediction run are no "
                f"longer there (first: {gone[0]}); their predictions in {PREDICTIONS}/ are kept as they "
                f"are and not refreshed. Give predict.inputs to predict again."
            )
            return {}, []
    else:
        return {}, []
    recordings, unusable = {}, []
    for path in files:
        rid = names.recording_id_for(path)
        problem = seesound_dataset.file_problem(path)
        if problem and DATASET["on_bad_audio"] != "skip":
            stop(
                f"{seesound_dataset.shown(path)}: {problem}. Fix it, or set dataset.on_bad_audio: skip"
            )
        if problem:
            unusable.append(
                {
                    "recording": rid,
                    "file": seesound_dataset.shown(path),
                    "reason": problem,
                }
            )
        elif rid in recordings:
            stop(
                f"predict.inputs: {recordings[rid]!r} and {path!r} would share the recording id {rid!r}"
            )
        else:
            recordings[rid] = path
    return recordings, unusable


RECORDINGS, UNUSABLE_RECORDINGS = prediction_recordings()
PREDICTION_BATCHES = layout.batch_count(
    len(RECORDINGS), CFG["predict"]["recordings_per_job"]
)


def recording_folder(rid):
    """Where a recording's tables go: predictions/, or its batch's folder with recordings_per_job > 1."""
    if PREDICTION_BATCHES == 0:
        return PREDICTIONS
    return (
        f"{PREDICTIONS}/{layout.batch_name(layout.batch_of(rid, PREDICTION_BATCHES))}"
    )


def prediction_job_outputs(wildcards=None):
    """What the gather waits for: each recording's tables, or each used batch folder."""
    if PREDICTION_BATCHES == 0:
        return [
            f
            for rid in RECORDINGS
            for f in recording_outputs(PREDICTIONS, rid).values()
        ]
    return sorted({recording_folder(rid) for rid in RECORDINGS})


def batch_recordings(wildcards):
    return [
        rid
        for rid in RECORDINGS
        if layout.batch_of(rid, PREDICTION_BATCHES) == int(wildcards.batch)
    ]


def prediction_outputs():
    """The combined prediction tables and plots (what `snakemake predict` and the report show)."""
    return [
        f"{RESULTS}/predictions.csv",
        f"{RESULTS}/detections.csv",
        f"{RESULTS}/tables/predictions_summary.csv",
        f"{RESULTS}/plots/timelines",
    ]


# The report's sections, numbered in reading order without gaps for the sections this run has; the others
# keep their plain title (their rules are not in this run's DAG)
_SECTION_TITLES = {
    "dataset": "Dataset",
    "spectrograms": "Spectrograms",
    "training": "Training",
    "evaluation": "Evaluation",
    "prediction": "Prediction",
    "run": "Run",
}
_SECTIONS = (
    ["evaluation"]
    if CROSS_VALIDATE
    else ["dataset", "spectrograms", "training", "evaluation"]
)
if RECORDINGS or UNUSABLE_RECORDINGS:
    _SECTIONS.append("prediction")
if not CROSS_VALIDATE:
    _SECTIONS.append("run")
CATEGORY = _SECTION_TITLES | {
    key: f"{i}. {_SECTION_TITLES[key]}" for i, key in enumerate(_SECTIONS, start=1)
}
# what the report's pages say besides Snakemake's lists (report/*.rst read it): the results on disk now
config["seesound_report"] = seesound_report.report_context(RESULTS, CFG)


def final_outputs():
    predictions = prediction_outputs() if RECORDINGS or UNUSABLE_RECORDINGS else []
    if CROSS_VALIDATE:
        return [
            f"{RESULTS}/cv_metrics.json",
            f"{RESULTS}/plots/cv_confusion_matrix.png",
            f"{RESULTS}/plots/cv_folds.png",
        ] + predictions
    outputs = [
        f"{RESULTS}/metrics.json",
        f"{RESULTS}/plots/confusion_matrix.png",
        f"{RESULTS}/plots/training_curves.png",
        f"{RESULTS}/plots/example_spectrograms.png",
        f"{RESULTS}/plots/dataset.png",
    ]
    return outputs + predictions + [f"{RESULTS}/run.json"]


def run_benchmarks():
    members = [f"train_member{k}" for k in range(2, ENSEMBLE + 1)]
    training = ["train", *members] + (["combine_members"] if members else [])
    rules = ["split", *training, "evaluate", "plot_examples", "plot_dataset"]
    return [f"{LOGS}/benchmarks/{r}.tsv" for r in rules]


CV = f"{RESULTS}/cv"


def cv_folds(wildcards=None):
    """The dataset's own folds when every clip has one, else 1..split.cv_folds (stratified group folds)."""
    table = clip_table()
    if len(table) and table["fold"].notna().all():
        return sorted(int(f) for f in table["fold"].unique())
    return list(range(1, CFG["split"]["cv_folds"] + 1))


def cv_fold_files(pattern):
    return lambda wildcards: [pattern.format(fold=f) for f in cv_folds()]
