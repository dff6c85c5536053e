"""Names that come from users (file paths, labels) turned into names the workflow can safely use.

A clip id is a Snakemake wildcard value and a path below `results_dir`; a label is a folder name in the
Ultralytics layout and a class name in the model. Both come from the user's files, so they are data:

- `clip_id_for(relative_path)`: the path below the data folder without its extension, kept as it is
  when it is safe, otherwise escaped: every unsafe character becomes `_`, over-long parts are cut, and
  `~` plus 8 hex digits of the SHA-1 of the original path is appended (`a{b}c.wav` -> `a_b_c~1f0c…`).
  Stable (a pure function of the path) and unique (the hash tells escaped names apart).
- `label_problem(label)`: why a label cannot be a class name (None when it can). Labels are never
  rewritten: a class name the user sees in the model and the metrics is the one they wrote.
- `flat_name(clip_id, ext)`: one file name for a clip inside a class folder (`a/b` -> `a__b.png`),
  cut and hashed when it would be too long for a file system.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# File systems allow 255 bytes per name; images get `.png`/`.jpg`, temporary files `.<name>.<8>.tmp`,
# logs `.log`: 150 bytes per path component leaves room for all of them.
MAX_PART_BYTES = 150
MAX_FLAT_BYTES = 200
ESCAPE_MARK = "~"
_UNSAFE_CHARS = set("{}\\")  # braces are Snakemake wildcards; a backslash is a path separator elsewhere
# Snakemake refuses a wildcard value ending in a substring repeated 20 or more times (it takes it for an
# endless recursion: PeriodicWildcardError); the same test as snakemake.io.PeriodicityDetector.
_PERIODIC_SUFFIX = re.compile(r"((?P<value>.+)(?P=value){19,99})$")


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def _cut(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def _safe_part(part: str) -> str:
    part = "".join("_" if ch in _UNSAFE_CHARS or _is_control(ch) or 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in part)
    if part.startswith("."):
        part = "_" + part[1:]
    return _cut(part, MAX_PART_BYTES - 30) or "_"


def _part_is_safe(part: str) -> bool:
    return (
        bool(part)
        and not part.startswith(".")
        and len(part.encode("utf-8", "surrogateescape")) <= MAX_PART_BYTES
        and not any(ch in _UNSAFE_CHARS or _is_control(ch) or 0xD800 <= ord(ch) <= 0xDFFF for ch in part)
    )


def is_periodic(value: str) -> bool:
    return len(value) >= 20 and _PERIODIC_SUFFIX.search(value) is not None


def clip_id_for(relative_stem: str) -> str:
    """The clip id of a file: its relative path without extension ('/'-separated), escaped if needed."""
    parts = relative_stem.split("/")
    if all(_part_is_safe(p) for p in parts) and not is_periodic(relative_stem):
        return relative_stem
    return "/".join(_safe_part(p) for p in parts) + ESCAPE_MARK + short_hash(relative_stem)


def label_problem(label: str) -> str | None:
    """Why `label` cannot be a class name, or None. A class name is a folder name, never a path."""
    if not label:
        return "it is empty"
    if "/" in label or "\\" in label:
        return "it contains a path separator ('/' or '\\'); a label is a class name, not a path"
    if label.startswith("."):
        return "it starts with '.' (hidden folder names and '..' are not class names)"
    if any(_is_control(ch) for ch in label):
        return "it contains a control character (a newline, tab or similar)"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in label):
        return "it is not valid UTF-8 text"
    if len(label.encode("utf-8")) > MAX_PART_BYTES:
        return f"it is longer than {MAX_PART_BYTES} bytes"
    return None


def flat_name(clip_id: str, ext: str) -> str:
    """File name of a clip inside a class folder: its id with folders flattened (unique, readable)."""
    flat = clip_id.replace("/", "__")
    if len(flat.encode("utf-8")) > MAX_FLAT_BYTES:
        flat = _cut(flat, MAX_FLAT_BYTES - 10) + ESCAPE_MARK + short_hash(clip_id)
    return f"{flat}.{ext}"


def recording_id_for(path: str) -> str:
    """The id of a prediction input: its path as given (normalized, '/'-separated, extension kept, so
    `x.wav` and `x.flac` stay apart), escaped like a clip id when it is not safe. Ids keep the folders,
    so `x_y/z.wav` and `x/y_z.wav` never collide; an absolute path or one through `..` is escaped and gets
    the hash of the original path, which keeps it unique."""
    import posixpath

    normalized = posixpath.normpath(str(path).replace("\\", "/"))
    return clip_id_for(normalized)
