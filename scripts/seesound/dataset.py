"""Which clips a run uses: the clip table for each `dataset.kind`, the demo recordings, the ESC-50 download.

The clip table has one row per audio file: clip_id (unique: the relative path without its extension, escaped by
`names.clip_id_for` when it is not a safe wildcard value), audio (the file), label, fold (or NA), group
(clips sharing a group never straddle two splits) and problem: empty for a usable file, else why the file
cannot be used at all (a broken symbolic link, a name that is not UTF-8). `check_problems` stops the run
on those under `on_bad_audio: fail`; under `skip` they are listed in bad_audio.csv with the files whose
content turns out to be bad.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import pandas as pd

from .audio import AUDIO_EXTENSIONS, is_audio_file
from .demo import DEMO_CLASSES
from .names import clip_id_for, label_problem

COLUMNS = ["clip_id", "label", "fold", "group", "audio", "problem"]
MANIFEST_COLUMNS = COLUMNS + ["image"]  # the workflow adds where each clip's image goes (layout.image_path)
ESC50_DOWNLOAD_FOLDER = "downloads/ESC-50-master"  # below results_dir, when dataset.path is null


class DatasetError(ValueError):
    pass


def _check_unique(table: pd.DataFrame, source) -> None:
    dup = table["clip_id"][table["clip_id"].duplicated()]
    if len(dup):
        raise DatasetError(
            f"{source}: two files would share the clip id {dup.iloc[0]!r} (same name, other case or extension)"
        )


def shown(path) -> str:
    """A path as it can be printed and written to a UTF-8 file, whatever bytes its name holds."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def file_problem(path) -> str:
    """Why a listed file cannot be used at all ('' when it can be opened as a regular file)."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8 text; rename it"
    if "{" in text or "}" in text:
        return "its path contains a curly brace, which Snakemake reads as a wildcard; rename it"
    if os.path.islink(text) and not os.path.exists(text):
        return f"it is a broken symbolic link (to {shown(os.readlink(text))!r}, which does not exist)"
    if not os.path.isfile(text):
        return "it is not a regular file"
    return ""


def walk_real_dirs(root):
    """Walk `root` and the folders its directory symlinks lead to, each real folder once.

    Real folders come first and symlinked routes after, so a link into another class's folder never
    claims it, and a link loop (`self -> .`) ends. Hidden folders (`.git`, `.Trash`) are not entered.
    Yields (dirpath, sorted file names).
    """
    seen, pending = set(), [str(root)]
    while pending:
        for dirpath, dirnames, filenames in os.walk(pending.pop(0)):
            st = os.stat(dirpath)
            if (st.st_dev, st.st_ino) in seen:
                dirnames[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
            visible = sorted(d for d in dirnames if not d.startswith("."))
            linked = [d for d in visible if os.path.islink(os.path.join(dirpath, d))]
            pending += [os.path.join(dirpath, d) for d in linked]
            dirnames[:] = [d for d in visible if d not in linked]
            yield dirpath, sorted(filenames)


# --- folder -------------------------------------------------------------------------------------------
def folder_clip_table(root) -> pd.DataFrame:
    """`root/<class>/**/<audio files>`: the class is the first folder below root."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(
            f"dataset.path {str(root)!r} is not a folder (expected one sub-folder of audio files per class)"
        )
    rows, loose, other = [], [], []
    for dirpath, filenames in walk_real_dirs(root):
        rel_dir = Path(dirpath).relative_to(root)
        audio = [n for n in filenames if is_audio_file(n)]
        other += [str(rel_dir / n) for n in filenames if not n.startswith(".") and not is_audio_file(n)]
        if rel_dir == Path("."):
            loose = audio  # files directly in root have no class
            continue
        label = rel_dir.parts[0]
        problem = label_problem(label)
        if problem and audio:
            raise DatasetError(
                f"{shown(root / label)}: the folder name {shown(label)!r} cannot be a class name: {problem}"
            )
        for name in audio:
            rel = PurePosixPath(*rel_dir.parts, name)
            clip_id = clip_id_for(str(rel.with_suffix("")))
            path = str(Path(dirpath) / name)
            rows.append((clip_id, label, pd.NA, clip_id, path, file_problem(path)))
    table = pd.DataFrame(sorted(rows, key=lambda row: row[0]), columns=COLUMNS)
    if table.empty:
        raise DatasetError(f"{root}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) found in its class sub-folders")
    _check_unique(table, root)
    warnings = []
    if loose:
        warnings.append(
            f"{len(loose)} audio file(s) directly in {root} have no class folder and are not used "
            f"(first: {shown(loose[0])})"
        )
    if other:
        warnings.append(not_audio_warning(other, root))
    table.attrs["warnings"] = warnings
    return table


def not_audio_warning(names, folder) -> str:
    """Files in a data or input folder that are not audio seesound reads: said, never silently ignored."""
    first = ", ".join(shown(n) for n in sorted(names)[:3])
    return (
        f"{len(names)} file(s) in {folder} are not audio seesound reads ({', '.join(AUDIO_EXTENSIONS)}) and "
        f"are not used (first: {first})"
    )


# --- csv / esc50 --------------------------------------------------------------------------------------
def _safe_audio_path(audio_dir: Path, name: str, csv_path, row_number: int) -> PurePosixPath:
    rel = PurePosixPath(name.replace("\\", "/"))
    if rel.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise DatasetError(
            f"{csv_path}, row {row_number}: refusing absolute path {name!r}; give paths relative to {audio_dir}"
        )
    if ".." in rel.parts:
        raise DatasetError(
            f"{csv_path}, row {row_number}: refusing path {name!r}, which leaves the audio folder {audio_dir}"
        )
    return rel


def csv_clip_table(csv_path, audio_dir=None, esc10_only: bool = False) -> pd.DataFrame:
    """A CSV with `filename` and `label` (or ESC-50's `category`), optional `fold` and `group`/`src_file`."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetError(
            f"dataset.path {str(csv_path)!r} does not exist (expected a CSV with filename,label columns)"
        )
    audio_dir = Path(audio_dir) if audio_dir else csv_path.parent / "audio"
    meta = read_csv_table(csv_path)
    label_col = "label" if "label" in meta.columns else "category" if "category" in meta.columns else None
    if "filename" not in meta.columns or label_col is None:
        raise DatasetError(
            f"{csv_path}: needs a 'filename' column and a 'label' (or 'category') column; found {list(meta.columns)}"
        )
    if esc10_only and "esc10" in meta.columns:
        meta = meta[meta["esc10"].str.strip().str.lower() == "true"]
    group_col = "group" if "group" in meta.columns else "src_file" if "src_file" in meta.columns else None
    rows, seen = [], {}
    for i, rec in enumerate(meta.to_dict("records")):
        row_number = int(meta.index[i]) + 2  # 1-based, after the header line
        name, label = rec["filename"].strip(), rec[label_col].strip()
        if not name:
            raise DatasetError(f"{csv_path}, row {row_number}: empty filename")
        if not label:
            raise DatasetError(f"{csv_path}, row {row_number}: empty label for {name!r}")
        problem = label_problem(label)
        if problem:
            raise DatasetError(f"{csv_path}, row {row_number}: the label {label!r} cannot be a class name: {problem}")
        rel = _safe_audio_path(audio_dir, name, csv_path, row_number)
        if str(rel) in seen:
            raise DatasetError(
                f"{csv_path}: rows {seen[str(rel)]} and {row_number} both name {name!r}; keep one row per file"
            )
        seen[str(rel)] = row_number
        audio = audio_dir / rel
        if not os.path.lexists(audio):
            raise DatasetError(f"{csv_path}, row {row_number}: audio file {str(audio)!r} does not exist")
        fold = rec.get("fold", "").strip() if "fold" in meta.columns else ""
        if fold and not fold.lstrip("-").isdigit():
            raise DatasetError(f"{csv_path}, row {row_number}: fold {fold!r} is not a whole number")
        clip_id = clip_id_for(str(rel.with_suffix("")))
        group = (rec[group_col].strip() if group_col else "") or clip_id
        rows.append((clip_id, label, int(fold) if fold else pd.NA, group, str(audio), file_problem(audio)))
    table = pd.DataFrame(rows, columns=COLUMNS)
    if table.empty:
        raise DatasetError(f"{csv_path}: no rows")
    _check_unique(table, csv_path)
    return table


def read_csv_table(csv_path) -> pd.DataFrame:
    """A user's CSV as text columns; an unreadable one is one sentence naming the file and the problem."""
    try:
        meta = pd.read_csv(csv_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")  # -sig: Excel's BOM
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{csv_path}: the file is empty (expected a header line such as filename,label)") from None
    except UnicodeDecodeError as e:
        raise DatasetError(
            f"{csv_path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); save it as UTF-8"
        ) from None
    except pd.errors.ParserError as e:
        detail = str(e).strip().splitlines()[-1]
        raise DatasetError(f"{csv_path}: malformed CSV ({detail})") from None
    meta.columns = [str(c).strip() for c in meta.columns]
    return meta


def unlisted_audio(table: pd.DataFrame, audio_dir) -> list[str]:
    """Audio files in the audio folder that no CSV row names (reported, not used)."""
    listed = {os.path.normpath(p) for p in table["audio"]}
    found = []
    for dirpath, filenames in walk_real_dirs(audio_dir):
        found += [os.path.normpath(os.path.join(dirpath, n)) for n in filenames if is_audio_file(n)]
    return sorted(set(found) - listed)


def esc50_csv(path) -> Path:
    return Path(path) / "meta" / "esc50.csv"


def download_esc50(url: str, dest) -> None:
    """Download and unpack the ESC-50 archive so that `dest/meta/esc50.csv` and `dest/audio/` exist."""
    import urllib.error
    import urllib.request

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".esc50-download-") as tmp:
        archive = Path(tmp) / "esc50.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as out:
                shutil.copyfileobj(response, out, length=1 << 20)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise DatasetError(
                f"could not download ESC-50 from {url} ({reason}); download and unzip it yourself, then set "
                f"dataset.path to the folder that holds meta/esc50.csv and audio/"
            ) from None
        try:
            with zipfile.ZipFile(archive) as z:
                z.extractall(Path(tmp) / "unpacked")
        except zipfile.BadZipFile:
            raise DatasetError(f"the file downloaded from {url} is not a zip archive") from None
        found = sorted((Path(tmp) / "unpacked").rglob("meta/esc50.csv"))
        if not found:
            raise DatasetError(f"the archive from {url} has no meta/esc50.csv; is it ESC-50?")
        if dest.exists():
            # never replace what someone else put there; empty folders are Snakemake's (it makes meta/)
            if any(files for _, _, files in os.walk(dest)):
                raise DatasetError(
                    f"{dest} already holds files but no meta/esc50.csv; point dataset.path at an "
                    f"empty or new folder for the download"
                )
            shutil.rmtree(dest)
        shutil.move(str(found[0].parent.parent), dest)


# --- demo ---------------------------------------------------------------------------------------------
def demo_clip_table(results_dir, clips_per_class: int, folds: int = 0) -> pd.DataFrame:
    """The synthetic demo set's clips (the audio is made by `synthesize_demo_clip`)."""
    rows = []
    for label in DEMO_CLASSES:
        for i in range(clips_per_class):
            clip_id = f"{label}/{label}_{i:03d}"
            fold = i % folds + 1 if folds else pd.NA
            rows.append((clip_id, label, fold, clip_id, f"{results_dir}/demo/audio/{clip_id}.wav", ""))
    return pd.DataFrame(rows, columns=COLUMNS)


# --- the clip table of a config ---------------------------------------------------------------------------
def clip_table(dataset: dict, results_dir: str) -> pd.DataFrame:
    """The clip table for the `dataset` config section."""
    kind = dataset["kind"]
    if kind == "demo":
        demo = dataset["demo"]
        return demo_clip_table(results_dir, demo["clips_per_class"], demo["folds"])
    if kind == "folder":
        return folder_clip_table(dataset["path"])
    if kind == "csv":
        return csv_clip_table(dataset["path"], dataset["audio_dir"], dataset["esc10_only"])
    if kind == "esc50":
        root = esc50_root(dataset, results_dir)
        return csv_clip_table(esc50_csv(root), root / "audio", dataset["esc10_only"])
    raise DatasetError(f"unknown dataset.kind {kind!r}")


def esc50_root(dataset: dict, results_dir) -> Path:
    """Where ESC-50 is (or is downloaded to): dataset.path, else a folder of the workflow's own."""
    return Path(dataset["path"]) if dataset["path"] else Path(results_dir) / ESC50_DOWNLOAD_FOLDER


def user_data_paths(dataset: dict, results_dir) -> list[Path]:
    """The folders and files of the user's that the dataset reads (never written, never inside results_dir)."""
    kind = dataset["kind"]
    if kind == "folder":
        return [Path(dataset["path"])]
    if kind == "csv":
        csv_path = Path(dataset["path"])
        return [csv_path, Path(dataset["audio_dir"]) if dataset["audio_dir"] else csv_path.parent / "audio"]
    if kind == "esc50" and dataset["path"]:
        return [Path(dataset["path"])]
    return []


def check_problems(table: pd.DataFrame, on_bad_audio: str) -> None:
    """Under `fail`, a file that cannot be used at all stops the run here, at start-up, named."""
    bad = table[table["problem"] != ""]
    if len(bad) and on_bad_audio != "skip":
        more = f"; {len(bad) - 1} more file(s) cannot be used either" if len(bad) > 1 else ""
        raise DatasetError(
            f"{shown(bad['audio'].iloc[0])}: {bad['problem'].iloc[0]}{more}. Fix them, or set "
            f"dataset.on_bad_audio: skip to leave such files out (listed in bad_audio.csv)"
        )


def manifest_text(table: pd.DataFrame) -> str:
    return table[MANIFEST_COLUMNS].to_csv(index=False, lineterminator="\n")
