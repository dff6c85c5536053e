"""What keeps a run from harming what it did not create.

- `check_results_dir`: refuses a `results_dir` where outputs would land on the user's own files: the
  file system's root, the home folder, a folder that holds the working directory or the workflow, or
  one that contains or lies inside a dataset or prediction input.
- Directory outputs (the split's folder tree, batch folders, timelines) carry a marker file. Snakemake
  deletes a directory output before the job that rewrites it, so `check_directory_outputs` runs at
  start-up and refuses to go on when such a path exists and is not seesound's.
- `ResultsLock`: two Snakemake processes (two working directories) must not write one results_dir at
  once; Snakemake's own lock is per working directory. The lock is an flock, so a killed run never
  leaves it behind.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

MARKER = ".seesound-output"


class SafetyError(ValueError):
    pass


def _real(path) -> str:
    return os.path.realpath(os.path.abspath(os.path.expanduser(str(path))))


def is_within(path: str, folder: str) -> bool:
    """True when `path` is `folder` or lies below it (both real, absolute paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_results_dir(results_dir, working_dir, workflow_dir, user_paths: list[tuple[str, object]], home=None) -> None:
    """Raise SafetyError (one sentence naming config key results_dir) when outputs could land on user files.

    user_paths: (config key, path) of every dataset file or folder and prediction input.
    """
    r = _real(results_dir)
    key = f"config key 'results_dir' ({str(results_dir)!r})"
    if r == os.sep:
        raise SafetyError(f"{key} is the file system's root; give the run a folder of its own, e.g. results")
    home = _real(home or Path.home())
    if r == home:
        raise SafetyError(f"{key} is your home folder; give the run a folder of its own, e.g. ~/seesound-results")
    if is_within(_real(working_dir), r):
        raise SafetyError(
            f"{key} is the working directory or a folder above it; outputs would mix with your "
            f"files: use a sub-folder such as results"
        )
    if is_within(_real(workflow_dir), r):
        raise SafetyError(f"{key} holds the workflow's own files ({workflow_dir}); use a sub-folder such as results")
    if os.path.exists(r) and not os.path.isdir(r):
        raise SafetyError(f"{key} is a file, not a folder")
    for what, path in user_paths:
        p = _real(path)
        if is_within(p, r):
            raise SafetyError(
                f"{key} contains {str(path)!r} ({what}); the workflow writes and replaces files "
                f"in results_dir, so keep your data outside it"
            )
        if is_within(r, p):
            raise SafetyError(f"{key} lies inside {str(path)!r} ({what}); keep results outside your data")


def _only_links_and_folders(path: Path) -> bool:
    """A tree with nothing but folders and symbolic links loses no data when removed (the split's layout
    before markers existed)."""
    for _dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            if not os.path.islink(os.path.join(_dirpath, name)):
                return False
    return True


def is_ours(path) -> bool:
    path = Path(path)
    return path.is_dir() and not path.is_symlink() and ((path / MARKER).is_file() or _only_links_and_folders(path))


def check_directory_outputs(paths) -> None:
    """Refuse when a directory output's path exists but was not written by seesound."""
    for path in paths:
        path = Path(path)
        if not os.path.lexists(path):
            continue
        if path.is_symlink() or not path.is_dir():
            raise SafetyError(
                f"{path} exists and is not a folder seesound made; the workflow would replace it: "
                f"move it away or choose another results_dir"
            )
        if not is_ours(path):
            raise SafetyError(
                f"{path} holds files seesound did not write (it has no {MARKER} marker); the "
                f"workflow would replace the folder: move it away or choose another results_dir"
            )


def mark_directory(path) -> None:
    """Make a directory output and mark it as seesound's, so a later run may replace it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("written by seesound; the workflow replaces this folder when it reruns\n")


class ResultsLock:
    """An exclusive lock on results_dir for the life of this process (flock: released when it dies)."""

    def __init__(self, results_dir):
        self.path = Path(results_dir) / ".seesound.lock"
        self.fd = None

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = self.owner()
            os.close(fd)
            who = (
                (
                    f" (process {owner.get('pid')} on {owner.get('host')}, working directory {owner.get('cwd')}, "
                    f"since {owner.get('since')})"
                )
                if owner
                else ""
            )
            raise SafetyError(
                f"results_dir {str(self.path.parent)!r} is in use by another seesound run{who}; wait "
                f"for it to finish, or give this run its own results_dir"
            ) from None
        os.ftruncate(fd, 0)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "cwd": os.getcwd(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        os.write(fd, (json.dumps(info) + "\n").encode())
        self.fd = fd

    def owner(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
