"""run.json's parts: stage times from Snakemake's benchmark files, the commit, package versions."""

import subprocess

import pandas as pd

from seesound.runinfo import benchmark_table, git_commit, package_versions


def test_each_benchmark_file_is_one_stage_with_its_log(tmp_path):
    bench = tmp_path / "logs" / "benchmarks"
    bench.mkdir(parents=True)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (bench / "train.tsv").write_text(header + "12.5\t0:00:12\t800.25\t1\t1\t1\t0\t0\t90\t20\n")
    (bench / "split.tsv").write_text(header + "0.8\t0:00:00\t-\t-\t-\t-\t-\t-\t-\t-\n")
    table = benchmark_table([bench / "train.tsv", bench / "split.tsv"])
    assert list(table.stage) == ["train", "split"]
    assert list(table.seconds) == [12.5, 0.8]
    assert table.max_rss_mb.iloc[0] == 800.2 and pd.isna(table.max_rss_mb.iloc[1])
    assert table.log.iloc[0] == str(tmp_path / "logs" / "train.log")


def test_the_commit_and_uncommitted_changes_are_reported(tmp_path):
    assert git_commit(tmp_path) is None  # not a git checkout
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "Snakefile").write_text("rule all:\n")
    subprocess.run([*git, "add", "Snakefile"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    clean = git_commit(tmp_path)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False
    (tmp_path / "Snakefile").write_text("rule all:\n    input: []\n")
    assert git_commit(tmp_path)["dirty"] is True


def test_package_versions_name_what_the_run_used():
    versions = package_versions()
    assert versions["python"].count(".") == 2
    assert versions["numpy"] and versions["torch"] and versions["ultralytics"]
