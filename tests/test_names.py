"""Names from users made safe: clip ids (Snakemake wildcard values and paths), labels, flat file names."""

import pytest

from seesound.names import MAX_FLAT_BYTES, MAX_PART_BYTES, clip_id_for, flat_name, is_periodic, label_problem


@pytest.mark.parametrize("stem", ["dog/1", "dog/name with spaces.v2.ünï", "cat/sub/x-y_z (2)", "a/~tilde"])
def test_safe_paths_are_their_own_clip_id(stem):
    assert clip_id_for(stem) == stem


@pytest.mark.parametrize(
    "stem",
    [
        "dog/a{b}c",
        "dog/new\nline",
        "dog/tab\there",
        "dog/x" + "ab" * 30,
        "dog/" + "é" * 120,
        "dog/.hidden",
        "dog/zero\u200bwidth",
        "dog/bad\udcffbyte",
    ],
)
def test_unsafe_paths_get_an_escaped_id_that_is_stable_unique_and_short(stem):
    clip = clip_id_for(stem)
    assert clip != stem and clip == clip_id_for(stem) and "~" in clip
    assert not any(ch in clip for ch in "{}\n\t\u200b") and not is_periodic(clip)
    assert all(len(part.encode("utf-8")) <= MAX_PART_BYTES for part in clip.split("/"))
    assert clip.split("/")[0] == "dog"  # the class folder stays readable
    assert clip_id_for(stem + "2") != clip


def test_the_periodicity_test_matches_snakemakes():
    from snakemake.io import PeriodicityDetector

    detector = PeriodicityDetector()
    for value in ["a" * 19, "a" * 20, "x" + "ab" * 20, "rec_" + "0" * 25, "abc" * 7, "dog/low_0"]:
        assert is_periodic(value) == (detector.is_periodic(value) is not None), value


@pytest.mark.parametrize(
    "label, problem",
    [
        ("dog/puppy", "path separator"),
        ("a\\b", "path separator"),
        ("..", "starts with '.'"),
        (".x", "starts with '.'"),
        ("../../tmp/x", "path separator"),
        ("new\nline", "control character"),
        ("", "empty"),
        ("x" * 200, "longer than"),
    ],
)
def test_labels_that_are_paths_or_unprintable_are_refused(label, problem):
    assert problem in label_problem(label)


@pytest.mark.parametrize("label", ["dog", "Dog barking", "chirping_birds", "ünï", "1", "a.b"])
def test_ordinary_labels_are_class_names(label):
    assert label_problem(label) is None


def test_flat_names_are_readable_and_bounded():
    assert flat_name("dog/sub/1", "png") == "dog__sub__1.png"
    long = flat_name("dog/" + "/".join(["part" * 30] * 3), "png")
    assert len(long.encode("utf-8")) <= MAX_FLAT_BYTES + 4 + 10 and "~" in long
