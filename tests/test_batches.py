"""spectrogram.clips_per_job: several clips per job, with a stable clip -> job assignment."""

import pandas as pd

from conftest import (
    TINY_SPECTROGRAM,
    fingerprints,
    make_class_folders,
    planned_jobs,
    run_snakemake,
    tone,
    write_config,
    write_wav_file,
)
from seesound.layout import batch_count, batch_of, image_path
from seesound.render import render_clip_image
from seesound.spectrogram import SpectrogramSettings


def test_batch_count_is_a_power_of_two_that_changes_only_when_the_collection_doubles():
    assert batch_count(5000, 1) == 0
    assert [batch_count(n, 100) for n in (1, 100, 101, 1000, 1600, 1601)] == [1, 1, 2, 16, 16, 32]


def test_a_clip_keeps_its_batch_whatever_else_is_in_the_collection():
    assert batch_of("dog/1-100-A-0", 16) == batch_of("dog/1-100-A-0", 16)
    counts = pd.Series([batch_of(f"c{i}", 16) for i in range(1600)]).value_counts()
    assert len(counts) == 16 and counts.max() < 2 * counts.mean()
    assert image_path("results", "a/b", "png", 0) == "results/spectrograms/a/b.png"
    assert image_path("results", "a/b", "png", 4).startswith("results/spectrograms/batch0000")


def test_batched_rendering_gives_the_same_images_and_one_new_wav_reruns_one_job(tmp_path):
    make_class_folders(tmp_path / "data", per_class=10)
    write_config(
        tmp_path,
        {"dataset": {"kind": "folder", "path": "data"}, "spectrogram": TINY_SPECTROGRAM | {"clips_per_job": 4}},
    )
    jobs = planned_jobs(tmp_path, "split")
    assert jobs["spectrogram_batch"] <= 8 and "spectrogram" not in jobs  # 30 clips / 4 -> 8 batches
    run_snakemake(tmp_path, "--cores", "2", "split")
    listing = pd.read_csv(tmp_path / "results" / "split.csv")
    settings = SpectrogramSettings.from_config(TINY_SPECTROGRAM)
    for rec in listing.itertuples():
        assert (tmp_path / rec.image).read_bytes() == render_clip_image(tmp_path / rec.audio, settings)
    before = fingerprints(tmp_path / "results" / "spectrograms")
    write_wav_file(tmp_path / "data" / "low" / "added.wav", tone(350, 0.5, 8000), 8000)
    jobs = planned_jobs(tmp_path, "split")
    assert jobs["spectrogram_batch"] == 1 and jobs["split"] == 1
    run_snakemake(tmp_path, "--cores", "2", "split")
    after = fingerprints(tmp_path / "results" / "spectrograms")
    assert [k for k in after if k not in before] == [k for k in after if k.endswith("low/added.png")]
    assert all(after[k] == before[k] for k in before)
