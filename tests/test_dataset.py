"""The clip table of each dataset kind, the demo recordings, the ESC-50 download from a local archive."""

import zipfile

import numpy as np
import pytest

from conftest import make_class_folders, tone, write_wav_file
from seesound.audio import read_audio
from seesound.dataset import (
    DatasetError,
    check_problems,
    csv_clip_table,
    demo_clip_table,
    download_esc50,
    folder_clip_table,
    unlisted_audio,
)
from seesound.demo import DEMO_CLASSES, synthesize_demo_clip


def test_folder_ids_are_unique_even_for_equal_file_names_in_two_classes(tmp_path):
    for label in ("cat", "dog"):
        write_wav_file(tmp_path / label / "1.wav", tone(), 16000)
    write_wav_file(tmp_path / "dog" / "name with spaces.v2.ünï.WAV", tone(), 16000)
    (tmp_path / "dog" / "._1.wav").write_bytes(b"macOS resource fork")
    t = folder_clip_table(tmp_path)
    assert list(t.clip_id) == ["cat/1", "dog/1", "dog/name with spaces.v2.ünï"]
    assert list(t.label) == ["cat", "dog", "dog"]


def csv_dataset(tmp_path, rows, header="filename,label,fold,group"):
    (tmp_path / "audio").mkdir(exist_ok=True)
    for r in rows:
        name = r.split(",")[0]
        if name and not name.startswith(("/", "..")):
            write_wav_file(tmp_path / "audio" / name, tone(), 16000)
    path = tmp_path / "meta.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_csv_table_reads_labels_folds_and_groups(tmp_path):
    t = csv_clip_table(csv_dataset(tmp_path, ["a.wav,dog,1,s1", "b.wav,cat,2,s1", "c.wav,cat,3,"]))
    assert list(t.label) == ["dog", "cat", "cat"] and list(t.fold) == [1, 2, 3]
    assert list(t.group) == ["s1", "s1", "c"]


def test_esc50_columns_category_and_src_file_are_understood(tmp_path):
    path = csv_dataset(
        tmp_path,
        ["1-1-A-0.wav,1,0,dog,True,1,A", "1-2-A-1.wav,2,1,rooster,False,2,A"],
        header="filename,fold,target,category,esc10,src_file,take",
    )
    t = csv_clip_table(path, esc10_only=True)
    assert list(t.label) == ["dog"] and list(t.group) == ["1"]


@pytest.mark.parametrize(
    "rows, message",
    [
        (["missing.wav,dog"], "row 2: audio file .*missing.wav' does not exist"),
        (["a.wav,dog", "a.wav,dog"], "rows 2 and 3 both name 'a.wav'"),
        (["a.wav,"], "row 2: empty label"),
        (["../../etc/passwd,dog"], "row 2: refusing path '../../etc/passwd'"),
        (["/etc/passwd,dog"], "row 2: refusing absolute path"),
        (["a.wav,../../../../tmp/x"], "row 2: the label '../../../../tmp/x' cannot be a class name"),
        (["a.wav,dog/puppy"], "row 2: the label 'dog/puppy' cannot be a class name: it contains a path separator"),
    ],
)
def test_bad_csv_rows_are_named(tmp_path, rows, message):
    path = csv_dataset(tmp_path, rows, header="filename,label")
    if rows[0].startswith("missing"):
        (tmp_path / "audio" / "missing.wav").unlink(missing_ok=True)
    with pytest.raises(DatasetError, match=message):
        csv_clip_table(path)


def test_files_without_a_row_are_listed(tmp_path):
    path = csv_dataset(tmp_path, ["a.wav,dog"], header="filename,label")
    write_wav_file(tmp_path / "audio" / "stray.wav", tone(), 16000)
    t = csv_clip_table(path)
    assert [p.endswith("stray.wav") for p in unlisted_audio(t, tmp_path / "audio")] == [True]


def test_demo_clips_are_deterministic_distinct_and_noisy():
    a = synthesize_demo_clip("siren", 3, 1.0, 16000, 0)
    assert np.array_equal(a, synthesize_demo_clip("siren", 3, 1.0, 16000, 0))
    assert not np.array_equal(a, synthesize_demo_clip("siren", 4, 1.0, 16000, 0))
    assert np.abs(a).max() <= 1.0 and np.abs(a).max() > 0.1
    for label in DEMO_CLASSES:
        x = synthesize_demo_clip(label, 0, 1.0, 16000, 0)
        assert len(x) == 16000 and np.isfinite(x).all() and x[:200].std() > 0  # background noise everywhere
    t = demo_clip_table("results", 4, folds=2)
    assert len(t) == 4 * len(DEMO_CLASSES) and set(t.fold) == {1, 2}


def test_esc50_download_from_a_local_archive(tmp_path):
    src = tmp_path / "src" / "ESC-50-master"
    write_wav_file(src / "audio" / "1-100-A-0.wav", tone(), 16000)
    (src / "meta").mkdir()
    (src / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n1-100-A-0.wav,1,0,dog,True,100,A\n"
    )
    archive = tmp_path / "esc50.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in src.rglob("*"):
            z.write(f, f.relative_to(tmp_path / "src"))
    dest = tmp_path / "data" / "ESC-50"
    download_esc50(archive.as_uri(), dest)
    assert (dest / "meta" / "esc50.csv").is_file() and read_audio(dest / "audio" / "1-100-A-0.wav")[1] == 16000


def test_esc50_download_failure_says_how_to_use_a_local_copy(tmp_path):
    with pytest.raises(DatasetError, match="could not download ESC-50 .*set dataset.path"):
        download_esc50((tmp_path / "nothing.zip").as_uri(), tmp_path / "dest")


def test_esc50_download_never_replaces_files_already_in_its_folder(tmp_path):
    dest = tmp_path / "mine"
    (dest / "meta").mkdir(parents=True)  # empty folders (Snakemake makes meta/) are fine; a file is not
    (dest / "notes.txt").write_text("my notes")
    src = tmp_path / "src" / "ESC-50-master"
    (src / "meta").mkdir(parents=True)
    (src / "meta" / "esc50.csv").write_text("filename,fold,target,category,esc10,src_file,take\n")
    archive = tmp_path / "esc50.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(src / "meta" / "esc50.csv", "ESC-50-master/meta/esc50.csv")
    with pytest.raises(DatasetError, match="already holds files"):
        download_esc50(archive.as_uri(), dest)
    assert (dest / "notes.txt").read_text() == "my notes"


def test_folder_walk_visits_each_real_folder_once_and_lists_broken_links_as_problems(tmp_path):
    import os

    make_class_folders(tmp_path / "data", classes=("a", "b"), per_class=2)
    os.symlink("..", tmp_path / "data" / "a" / "up")  # a loop through the parent
    os.symlink(tmp_path / "data" / "b", tmp_path / "data" / "a" / "b_again")  # another way into b
    os.symlink("nothing.wav", tmp_path / "data" / "b" / "broken.wav")
    t = folder_clip_table(tmp_path / "data")
    assert sorted(t.clip_id) == ["a/a_0", "a/a_1", "b/b_0", "b/b_1", "b/broken"]
    assert t.set_index("clip_id").loc["b/broken", "problem"].startswith("it is a broken symbolic link")
    with pytest.raises(DatasetError, match="broken.wav: it is a broken symbolic link .* dataset.on_bad_audio: skip"):
        check_problems(t, "fail")
    check_problems(t, "skip")


def test_a_class_folder_whose_name_cannot_be_a_class_is_named(tmp_path):
    write_wav_file(tmp_path / "bad\tname" / "x.wav", tone(), 16000)
    with pytest.raises(DatasetError, match="bad\\\\tname.*cannot be a class name: it contains a control character"):
        folder_clip_table(tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the file is empty"),
        (b"filename,label\nx.wav,caf\xe9\n", "not UTF-8 text"),
        (b'filename,label\n"x.wav,dog\n', "malformed CSV"),
    ],
)
def test_unreadable_csvs_are_one_sentence(tmp_path, content, message):
    (tmp_path / "meta.csv").write_bytes(content)
    with pytest.raises(DatasetError, match=f"meta.csv: {message}"):
        csv_clip_table(tmp_path / "meta.csv")


def test_a_csv_with_an_excel_byte_order_mark_is_read(tmp_path):
    path = csv_dataset(tmp_path, ["a.wav,dog"], header="filename,label")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert list(csv_clip_table(path).label) == ["dog"]
