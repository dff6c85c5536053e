"""Atomic file writes: a killed job never leaves a half-written file that a later run would trust.

Files get the permissions any new file of the user's would get (0666 less the umask), not the 0600 of a
temporary file, so colleagues sharing a server can read the results.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def current_umask() -> int:
    """The process's umask, read without changing it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc (macOS): set and restore at once
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~current_umask()


def file_state(path) -> tuple[int, int] | None:
    """(size, modification time in ns) of a file, None when there is none to stat.

    A job's params carry this for each file of the user's it reads: a file replaced by another that kept
    an older time (`cp -p`, `rsync -a`, an unpacked archive) changes it, where Snakemake's mtime trigger,
    which only asks whether an input is newer than the output, would keep the old result."""
    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None
    return st.st_size, st.st_mtime_ns


def atomic_write_bytes(path, data: bytes) -> None:
    """Write bytes to a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:200]}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
