"""Train/val/test assignment and the Ultralytics folder layout (`train/ val/ test/ <class>/`).

The assignment is a pure function of each clip's own (group, fold) and the settings, so adding or removing
a recording never moves another one between splits.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .fileio import atomic_write_text

SPLITS = ("train", "val", "test")


class SplitError(ValueError):
    pass


@dataclass(frozen=True)
class SplitSettings:
    """Everything that decides a split (the `split` config section, and the fold of a cross-validation)."""

    method: str = "auto"  # auto | folds | ratio | cv
    test_folds: list = field(default_factory=lambda: [5])
    val_folds: list = field(default_factory=lambda: [4])
    test_ratio: float = 0.2
    val_ratio: float = 0.1
    seed: int = 0
    cv_folds: int | None = None  # cv: folds for data without its own
    cv_fold: int | None = None  # cv: the fold that is the test set
    cv_val_ratio: float | None = None  # cv: the training folds' share in val (None in a holdout split)

    @classmethod
    def holdout(cls, section: dict, method: str) -> SplitSettings:
        keys = ("test_folds", "val_folds", "test_ratio", "val_ratio", "seed")
        return cls(method=method, **{k: section[k] for k in keys})

    def for_fold(self, section: dict, fold: int) -> SplitSettings:
        return SplitSettings(
            **{
                **asdict(self),
                "method": "cv",
                "cv_folds": section["cv_folds"],
                "cv_fold": int(fold),
                "cv_val_ratio": section["cv_val_ratio"],
            }
        )

    def as_dict(self) -> dict:
        settings = asdict(self)
        if settings["cv_val_ratio"] is None:  # a holdout split's params stay what they were before the key
            del settings["cv_val_ratio"]
        return settings


def resolve_method(method: str, table: pd.DataFrame) -> str:
    """`auto` means the dataset's folds when it has them, a ratio split otherwise."""
    if method != "auto":
        return method
    return "folds" if table["fold"].notna().all() and len(table) else "ratio"


def group_uniform(group: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) for a group: the same group and seed, the same number."""
    digest = hashlib.sha256(f"{seed}\0{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_by_group_ratio(table: pd.DataFrame, test_ratio: float, val_ratio: float, seed: int) -> pd.Series:
    """Grouped ratio split: each group goes wholly to test, val or train by its own hash.

    Stratified in expectation (the hash ignores the class, so every class gets the ratios on average);
    a new group never moves another, which an exact per-class quota could not promise.
    """
    u = table["group"].map(lambda g: group_uniform(str(g), seed))
    return pd.Series(
        ["test" if x < test_ratio else "val" if x < test_ratio + val_ratio else "train" for x in u],
        index=table.index,
    )


def split_by_folds(table: pd.DataFrame, test_folds, val_folds) -> pd.Series:
    if table["fold"].isna().any():
        missing = table.loc[table["fold"].isna(), "clip_id"].iloc[0]
        raise SplitError(f"split.method is 'folds' but clip {missing!r} has no fold; use split.method: ratio")
    folds = table["fold"].astype(int)
    return pd.Series(
        ["test" if f in set(test_folds) else "val" if f in set(val_folds) else "train" for f in folds],
        index=table.index,
    )


def cv_folds_of(table: pd.DataFrame, n_folds: int, seed: int) -> pd.Series:
    """Cross-validation folds: the dataset's own when every clip has one, else stratified group folds.

    Without folds, each class's groups are put in a seeded hash order and dealt to folds 1..n_folds in
    turn (starting at a per-class offset), so every fold gets its share of every class and a group never
    spans two folds. A group with clips of several classes goes with its most common class.
    """
    if len(table) and table["fold"].notna().all():
        return table["fold"].astype(int)
    group_label = table.groupby("group")["label"].agg(lambda labels: labels.mode().iloc[0])
    fold_of_group = {}
    for label, groups in group_label.groupby(group_label):
        order = sorted(groups.index, key=lambda g: group_uniform(f"cv\0{g}", seed))
        offset = int(group_uniform(f"cv offset\0{label}", seed) * n_folds)
        for rank, group in enumerate(order):
            fold_of_group[group] = 1 + (rank + offset) % n_folds
    return table["group"].map(fold_of_group).astype(int)


def split_for_cv_fold(table: pd.DataFrame, fold: int, n_folds: int, val_ratio: float, seed: int) -> pd.Series:
    """Fold `fold` is the test set; val is a grouped `val_ratio` of the other folds' groups, the rest trains.

    Val comes from the training folds (not from another fold) so each model trains on all other folds
    but one small share, and validating (or picking a best epoch) never looks at the test fold. A share
    too small to catch any group (2 % of a few dozen) takes the one group of the lowest hash instead: a
    training needs a val set. Otherwise a group goes to val by its own hash alone, whatever else is there.
    """
    folds = cv_folds_of(table, n_folds, seed)
    if fold not in set(folds):
        raise SplitError(f"cross-validation fold {fold} has no clips (folds present: {sorted(set(folds))})")
    u = table["group"].map(lambda g: group_uniform(str(g), seed))
    training = folds != fold
    in_val = training & (u < val_ratio)
    if training.any() and not in_val.any():
        in_val = training & (u == u[training].min())
    return pd.Series(
        ["test" if not t else "val" if v else "train" for t, v in zip(training, in_val)], index=table.index
    )


def assign_splits(
    table: pd.DataFrame,
    method: str,
    test_folds,
    val_folds,
    test_ratio,
    val_ratio,
    seed,
    cv_fold=None,
    cv_folds=5,
    cv_val_ratio=None,
) -> pd.Series:
    method = resolve_method(method, table)
    if method == "cv":
        if cv_fold is None or cv_val_ratio is None:
            raise SplitError(
                "split.method 'cv' needs the fold to test and its val share (the cv_split rule passes them)"
            )
        return split_for_cv_fold(table, int(cv_fold), cv_folds, cv_val_ratio, seed)
    if method == "folds":
        return split_by_folds(table, test_folds, val_folds)
    return split_by_group_ratio(table, test_ratio, val_ratio, seed)


def check_split(table: pd.DataFrame, split: pd.Series) -> list[str]:
    """Raise when training cannot work; return warnings about thin classes."""
    if table.empty:
        raise SplitError("no usable clip is left: every clip was skipped as bad audio (see bad_audio.csv)")
    counts = pd.crosstab(table["label"], split).reindex(columns=list(SPLITS), fill_value=0)
    if counts["train"].sum() == 0 or counts["val"].sum() == 0:
        empty = "train" if counts["train"].sum() == 0 else "val"
        raise SplitError(
            f"the {empty} split is empty ({len(table)} clips); add recordings or change the split settings"
        )
    no_train = counts.index[counts["train"] == 0].tolist()
    if no_train:
        raise SplitError(
            f"class {no_train[0]!r} has no clip in the train split ({int(counts.loc[no_train[0]].sum())} clips in all); "
            f"it needs more recordings (or groups) than the val/test splits take"
        )
    warnings = []
    for split_name in ("val", "test"):
        missing = counts.index[counts[split_name] == 0].tolist()
        if len(missing) == 1:
            warnings.append(f"class {missing[0]!r} has no clip in the {split_name} split")
        elif missing:  # one line, not one per class (a 2 % val share of 50 classes misses most of them)
            named = ", ".join(repr(label) for label in missing[:5]) + (", ..." if len(missing) > 5 else "")
            warnings.append(f"{len(missing)} of {len(counts)} classes have no clip in the {split_name} split: {named}")
    return warnings


def write_dataset_folder(listing: pd.DataFrame, classes, dataset_dir) -> None:
    """Lay out `dataset_dir/{train,val,test}/<class>/` with relative symlinks to the spectrogram images.

    Every class gets a folder in every split, so Ultralytics sees the same class list everywhere. An
    existing folder is replaced only when it is seesound's own (safety.is_ours).
    """
    from .names import flat_name, short_hash
    from .safety import SafetyError, is_ours, mark_directory

    dataset_dir = Path(dataset_dir)
    if os.path.lexists(dataset_dir):
        if not is_ours(dataset_dir):
            raise SafetyError(f"{dataset_dir} holds files seesound did not write; refusing to replace it")
        shutil.rmtree(dataset_dir)
    mark_directory(dataset_dir)
    for split_name in SPLITS:
        for label in classes:
            (dataset_dir / split_name / label).mkdir(parents=True, exist_ok=True)
    used = set()
    for rec in listing.itertuples(index=False):
        ext = Path(rec.image).suffix[1:]
        link = dataset_dir / rec.split / rec.label / flat_name(rec.clip_id, ext)
        if link in used:  # 'a/b__c' and 'a__b/c' flatten alike
            link = link.with_name(f"{link.stem}~{short_hash(rec.clip_id)}.{ext}")
        used.add(link)
        os.symlink(os.path.relpath(Path(rec.image).resolve(), link.parent.resolve()), link)


def audio_summary(audio_paths) -> dict:
    """Durations and (native) sample rates of the clips, from their headers (no samples are read)."""
    import numpy as np

    from .audio import read_audio_info

    infos = [read_audio_info(p) for p in audio_paths]
    durations = np.array([i.duration_s for i in infos])
    rates = pd.Series([i.sample_rate for i in infos]).value_counts().sort_index()
    return {
        "total_duration_s": float(durations.sum()),
        "median_duration_s": float(np.median(durations)) if len(durations) else 0.0,
        "sample_rates": {str(int(r)): int(n) for r, n in rates.items()},
    }


def bad_audio_records(bad_audio_csv) -> list[dict]:
    return pd.read_csv(bad_audio_csv, dtype=str, keep_default_na=False).to_dict("records")


def image_time_span(image_paths) -> dict:
    """When the spectrogram images were written: the span from the first to the last one."""
    times = [os.stat(p).st_mtime for p in image_paths]
    if not times:
        return {"count": 0}
    return {
        "count": len(times),
        "first_written": min(times),
        "last_written": max(times),
        "span_s": round(max(times) - min(times), 3),
    }


def leave_out_bad_audio(table: pd.DataFrame, bad_audio_csv, log) -> pd.DataFrame:
    """Drop clips that could not be used (a problem found at start-up, or an image that is a bad-audio
    placeholder) and list them, with the reason, in bad_audio_csv."""
    from .render import bad_audio_reason

    reasons = [problem or bad_audio_reason(image) for problem, image in zip(table["problem"], table["image"])]
    is_bad = [r is not None and r != "" for r in reasons]
    bad = table[is_bad]
    report = pd.DataFrame(
        {"clip_id": bad["clip_id"], "audio": bad["audio"], "reason": [r for r, b in zip(reasons, is_bad) if b]}
    )
    atomic_write_text(bad_audio_csv, report.to_csv(index=False, lineterminator="\n"))
    for rec in report.itertuples(index=False):
        log(f"skipped bad audio {rec.audio}: {rec.reason}")
    if len(report):
        log(f"warning: {len(report)} of {len(table)} clips skipped as bad audio (listed in {bad_audio_csv})")
    return table[[not b for b in is_bad]].reset_index(drop=True)


def classes_lost_to_bad_audio(table: pd.DataFrame, split: pd.Series, bad_labels) -> dict[str, str]:
    """Classes that skipped bad audio left with no clip at all, or with no training clip (a class without
    training clips for other reasons is check_split's error)."""
    counts = pd.crosstab(table["label"], split).reindex(columns=list(SPLITS), fill_value=0)
    lost = {}
    for label in sorted(set(bad_labels)):
        if label not in counts.index:
            lost[label] = "every clip of the class was skipped as bad audio"
        elif counts.loc[label, "train"] == 0:
            lost[label] = (
                f"every training clip of the class was skipped as bad audio; its "
                f"{int(counts.loc[label].sum())} val/test clip(s) are left out too"
            )
    return lost


def read_manifest(manifest_csv) -> pd.DataFrame:
    text = {c: str for c in ("clip_id", "label", "group", "audio", "image", "problem")}
    table = pd.read_csv(manifest_csv, dtype=text, keep_default_na=False, na_values={"fold": [""]})
    table["fold"] = table["fold"].astype("Int64")
    return table


def make_split(
    manifest_csv,
    dataset_dir,
    listing_csv,
    summary_json,
    bad_audio_csv,
    settings: dict,
    log=lambda message: print(message, flush=True),
) -> pd.DataFrame:
    """The split rule: assign, check, lay out the folders, write the listing and a summary.

    `settings`: SplitSettings as a dict (as the rule's params carry it)."""
    spec = SplitSettings(**settings)
    cv_fold = spec.cv_fold
    table = read_manifest(manifest_csv)
    usable = leave_out_bad_audio(table, bad_audio_csv, log)
    bad_labels = set(table.loc[~table["clip_id"].isin(usable["clip_id"]), "label"])
    table = usable
    resolved = resolve_method(spec.method, table)
    split = assign_splits(
        table,
        resolved,
        spec.test_folds,
        spec.val_folds,
        spec.test_ratio,
        spec.val_ratio,
        spec.seed,
        cv_fold,
        spec.cv_folds or 5,
        spec.cv_val_ratio,
    )
    lost = classes_lost_to_bad_audio(table, split, bad_labels)
    for label, why in lost.items():
        log(f"warning: class {label!r} is left out of the model: {why}")
    keep = ~table["label"].isin(list(lost)).to_numpy()
    table, split = table[keep].reset_index(drop=True), split[keep].reset_index(drop=True)
    for w in check_split(table, split):
        log(f"warning: {w}")
    listing = table.assign(split=split.values)
    classes = sorted(table["label"].unique())
    write_dataset_folder(listing, classes, dataset_dir)
    atomic_write_text(
        listing_csv,
        listing[["clip_id", "label", "group", "fold", "split", "image", "audio"]].to_csv(
            index=False, lineterminator="\n"
        ),
    )
    counts = pd.crosstab(listing["label"], listing["split"]).reindex(columns=list(SPLITS), fill_value=0)
    summary = {
        "method": resolved if cv_fold is None else f"cv fold {cv_fold}",
        "classes": classes,
        "clips": len(listing),
        "bad_audio": bad_audio_records(bad_audio_csv),
        "classes_left_out": [{"class": label, "reason": why} for label, why in lost.items()],
        "clips_per_split": {s: int(counts[s].sum()) for s in SPLITS},
        "clips_per_class_and_split": {c: {s: int(counts.loc[c, s]) for s in SPLITS} for c in classes},
    }
    summary.update(audio_summary(listing["audio"]))
    summary["spectrogram_images"] = image_time_span(listing["image"])
    atomic_write_text(summary_json, json.dumps(summary, indent=2) + "\n")
    log(f"split ({resolved}): " + ", ".join(f"{s} {summary['clips_per_split'][s]}" for s in SPLITS))
    return listing
