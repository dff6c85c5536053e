"""Atomic file writes: a killed job never leaves a half-written file that a later run would trust.

Files get the permissions any new file of the user's would get (0666 less the umask), not the 0600 of a
temporary file, so colleagues sharing a server can read the results.
"""

from __future__ import annotations

import hashlib
import json
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


class ContentDigests:
    """BLAKE2b digests of the user's files, each read once and then cached by what `stat` says of it.

    A job's params carry the digest of each file of the user's it reads, so a job reruns exactly when a
    file's bytes change: a replacement that kept an older time (`cp -p`, `rsync -a`, an unpacked archive),
    which Snakemake's mtime trigger misses, reruns it; a `touch`, a copy of the same bytes or a fresh
    download of the same data does not. A cached digest is used only while the file's device, inode, size,
    mtime and ctime are those it was computed at: any write moves the ctime, which no copy tool can set.
    The cache is a JSON file in results_dir (`path`; None: no cache, every file read each time); a damaged
    or foreign one is ignored and rebuilt, since every entry is checked against the file before use.
    """

    VERSION = 1

    def __init__(self, path=None):
        self.path = Path(path) if path is not None else None
        self._entries: dict | None = None
        self._changed = False
        self._asked: set[str] = set()

    def _load(self) -> dict:
        if self._entries is None:
            self._entries = {}
            if self.path is not None:
                try:
                    data = json.loads(self.path.read_text(encoding="utf-8"))
                    if data.get("version") == self.VERSION and isinstance(data.get("files"), dict):
                        self._entries = data["files"]
                except (OSError, ValueError, AttributeError):
                    pass
        return self._entries

    def digest(self, path) -> str | None:
        """The file's content digest (hex), None when there is no file to read."""
        try:
            st = os.stat(path)
            key = os.path.abspath(path)
        except (OSError, ValueError, TypeError):
            return None
        stamp = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        entries = self._load()
        self._asked.add(key)
        entry = entries.get(key)
        if isinstance(entry, list) and entry[:5] == stamp and len(entry) == 6:
            return entry[5]
        try:
            with open(path, "rb") as f:
                value = hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()
        except OSError:
            return None
        entries[key] = [*stamp, value]
        self._changed = True
        return value

    def digest_all(self, paths, workers: int | None = None) -> list[str | None]:
        """digest() of each path, the files not in the cache read on up to `workers` threads (default: the
        cores, at most 8): hashlib lets go of the GIL while it hashes, so a first run's reading and
        hashing of a large dataset spreads over the cores."""
        paths = list(paths)
        workers = workers or min(8, os.cpu_count() or 1)
        self._load()  # once, before any thread asks
        if workers <= 1 or len(paths) < 2 * workers:
            return [self.digest(p) for p in paths]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(self.digest, paths, chunksize=16))

    def save(self) -> None:
        """Write the cache (atomically) when a digest was computed since it was read, less the entries of
        files that are gone (a file not asked about this time stays: another target may need it)."""
        if self.path is None or not self._changed:
            return
        self._entries = {k: v for k, v in self._entries.items() if k in self._asked or os.path.lexists(k)}
        atomic_write_text(
            self.path, json.dumps({"version": self.VERSION, "files": self._entries}, separators=(",", ":"))
        )
        self._changed = False


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
