"""The workflow on a real single-node SLURM cluster (Debian's slurm-wlm), against a local run.

tests/slurm/start-slurm.sh installs and starts SLURM (root and apt needed; skipped with the reason
otherwise); the test submits the workflow with `--profile profiles/slurm`, counts the submissions in
SLURM's job completion log, and compares the outputs with a local run. It stops only what it started.
"""

import importlib.util
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, TINY_SPECTROGRAM, TINY_TRAIN, make_class_folders, run_snakemake, write_config
from test_rebuilds import fingerprints

pytestmark = pytest.mark.slurm
SLURM = REPO / "tests" / "slurm"
JOBCOMP_LOG = Path("/var/log/slurm/jobcomp.log")
CLIPS_PER_GROUP = 12


@pytest.fixture(scope="module")
def slurm_cluster():
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("snakemake-executor-plugin-slurm is not installed")
    start = time.time()
    proc = subprocess.run(["bash", str(SLURM / "start-slurm.sh")], capture_output=True, text=True, timeout=900)
    if proc.returncode == 3:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout, f"start-slurm.sh took {time.time() - start:.1f} s")
    yield
    subprocess.run(["bash", str(SLURM / "stop-slurm.sh")], timeout=120)


def submitted_jobs() -> list[str]:
    return JOBCOMP_LOG.read_text().splitlines() if JOBCOMP_LOG.exists() else []


def dataset(work: Path):
    make_class_folders(work / "data", per_class=8)  # 24 clips
    write_config(work, {"dataset": {"kind": "folder", "path": "data"}, "spectrogram": TINY_SPECTROGRAM,
                        "split": {"test_ratio": 0.25, "val_ratio": 0.25}, "train": TINY_TRAIN | {"threads": 1}})


def test_the_workflow_runs_through_slurm_with_grouped_spectrograms_and_matches_a_local_run(slurm_cluster, tmp_path):
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    dataset(local)
    dataset(cluster)
    t0 = time.time()
    run_snakemake(local, "--cores", "2")
    local_s = time.time() - t0

    before = len(submitted_jobs())
    t0 = time.time()
    proc = run_snakemake(
        cluster, "--profile", str(REPO / "profiles" / "slurm"), "--cores", "2", "--jobs", "10",
        "--default-resources", "slurm_partition=debug", "mem_mb=400", "runtime=10",
        "--group-components", f"spectrograms={CLIPS_PER_GROUP}",
        "--slurm-status-command", "squeue",  # no accounting database on this test cluster
        "--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "10", timeout=1500,
        env=dict(os.environ),  # the real scontrol
    )
    cluster_s = time.time() - t0
    jobs = submitted_jobs()[before:]
    # 24 spectrograms in groups of 12, then split, train, evaluate, plot_examples; the rest run locally
    expected = 24 // CLIPS_PER_GROUP + 4
    print(f"local run {local_s:.0f} s; SLURM run {cluster_s:.0f} s with {len(jobs)} submissions "
          f"(ungrouped it would be {24 + 4})")
    assert len(jobs) == expected, "\n".join(jobs) + proc.stdout[-3000:]
    assert all("JobState=COMPLETED" in j for j in jobs)
    assert fingerprints(cluster / "results" / "spectrograms") == fingerprints(local / "results" / "spectrograms")
    assert (cluster / "results" / "split.csv").read_bytes() == (local / "results" / "split.csv").read_bytes()
    assert (cluster / "results" / "metrics.json").is_file() and (cluster / "results" / "run.json").is_file()
