"""results_dir rules, directory markers, the results_dir lock, file permissions."""

import os
import subprocess
import sys

import pytest

from conftest import REPO
from seesound.fileio import FILE_MODE, atomic_write_text, current_umask
from seesound.safety import (
    MARKER,
    ResultsLock,
    SafetyError,
    check_directory_outputs,
    check_results_dir,
    is_ours,
    mark_directory,
)


def check(tmp_path, results_dir, user_paths=()):
    check_results_dir(
        tmp_path / results_dir if results_dir not in ("/",) else "/",
        tmp_path / "work",
        REPO,
        list(user_paths),
        home=tmp_path / "home",
    )


def test_a_results_dir_of_its_own_passes(tmp_path):
    (tmp_path / "work").mkdir()
    check(tmp_path, "work/results", [("dataset.path", tmp_path / "work" / "data")])


@pytest.mark.parametrize(
    "results_dir, user, sentence",
    [
        ("/", None, "file system's root"),
        ("home", None, "home folder"),
        ("work", None, "working directory"),
        (".", None, "working directory"),
        ("work/data/x", "work/data", "lies inside"),
        ("work/out", "work/out/data", "contains"),
    ],
)
def test_results_dirs_on_top_of_user_files_are_refused(tmp_path, results_dir, user, sentence):
    (tmp_path / "work").mkdir()
    users = [("dataset.path", tmp_path / user)] if user else []
    with pytest.raises(SafetyError, match=sentence):
        check(tmp_path, results_dir, users)


def test_a_symlinked_results_dir_is_judged_by_where_it_leads(tmp_path):
    (tmp_path / "work" / "data").mkdir(parents=True)
    os.symlink(tmp_path / "work" / "data", tmp_path / "work" / "results")
    with pytest.raises(SafetyError, match="contains .*/work/data' \\(dataset.path\\)"):
        check(tmp_path, "work/results", [("dataset.path", tmp_path / "work" / "data")])


def test_directory_outputs_are_replaced_only_when_they_are_seesounds(tmp_path):
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "sub" / "rec.wav").write_bytes(b"RIFF")
    with pytest.raises(SafetyError, match="holds files seesound did not write"):
        check_directory_outputs([mine])
    links = tmp_path / "links"  # the split's layout before markers: only folders and symlinks, nothing to lose
    (links / "train" / "a").mkdir(parents=True)
    os.symlink("/nowhere", links / "train" / "a" / "x.png")
    ours = tmp_path / "ours"
    mark_directory(ours)
    (ours / "img.png").write_bytes(b"png")
    check_directory_outputs([links, ours, tmp_path / "absent"])
    assert is_ours(ours) and (ours / MARKER).is_file() and not is_ours(mine)
    os.symlink(mine, tmp_path / "linked")
    with pytest.raises(SafetyError, match="is not a folder seesound made"):
        check_directory_outputs([tmp_path / "linked"])


def test_the_lock_is_exclusive_names_its_holder_and_dies_with_it(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time;"
                f"from seesound.safety import ResultsLock; ResultsLock({str(tmp_path)!r}).acquire(); print('held', flush=True);"
                "time.sleep(60)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(SafetyError, match=f"in use by another seesound run \\(process {holder.pid} on"):
        ResultsLock(tmp_path).acquire()
    holder.kill()  # kill -9: no clean-up ran, yet the lock is free
    holder.wait()
    lock = ResultsLock(tmp_path)
    lock.acquire()
    lock.release()


def test_written_files_get_the_users_umask_not_0600(tmp_path):
    atomic_write_text(tmp_path / "x.csv", "a,b\n")
    assert (tmp_path / "x.csv").stat().st_mode & 0o777 == FILE_MODE == 0o666 & ~current_umask()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            (f"from seesound.fileio import atomic_write_text;atomic_write_text({str(tmp_path / 'y.csv')!r}, 'x')"),
        ],
        preexec_fn=lambda: os.umask(0o007),
    )
    assert out.returncode == 0 and (tmp_path / "y.csv").stat().st_mode & 0o777 == 0o660
