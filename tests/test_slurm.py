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

from conftest import (
    PRISTINE_ENV,
    REPO,
    TINY_SPECTROGRAM,
    TINY_TRAIN,
    fingerprints,
    make_class_folders,
    run_snakemake,
    snakemake_cmd,
    write_config,
)

pytestmark = pytest.mark.slurm
SLURM = REPO / "tests" / "slurm"
JOBCOMP_LOG = Path("/var/log/slurm/jobcomp.log")
CLIPS_PER_GROUP = 12


@pytest.fixture(scope="module")
def slurm_cluster():
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("snakemake-executor-plugin-slurm is not installed")
    start = time.time()
    proc = subprocess.run(
        ["bash", str(SLURM / "start-slurm.sh")], capture_output=True, text=True, timeout=900, env=PRISTINE_ENV
    )
    if proc.returncode == 3:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout, f"start-slurm.sh took {time.time() - start:.1f} s")
    yield
    subprocess.run(["bash", str(SLURM / "stop-slurm.sh")], timeout=120)


def submitted_jobs() -> list[str]:
    return JOBCOMP_LOG.read_text().splitlines() if JOBCOMP_LOG.exists() else []


# pending reasons that no amount of waiting resolves: fail at once instead of at the timeout
HOPELESS_REASONS = ("PartitionConfig", "BadConstraints", "PartitionNodeLimit", "ReqNodeNotAvail", "InvalidQOS")


def node_cpus() -> int:
    return int(
        subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, check=True).stdout.split()[0]
    )


def hopeless_jobs() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-t", "PD", "-o", "%i %r"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if any(r in line for r in HOPELESS_REASONS)]


def run_on_slurm(workdir: Path, *args, timeout=900) -> str:
    """Snakemake with the SLURM profile; fails fast, with the reason, when a job can never start."""
    cmd = snakemake_cmd() + [
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        f"--configfile={workdir / 'config.yaml'}",
        *args,
    ]
    log = workdir / "snakemake.out"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=PRISTINE_ENV, start_new_session=True)
        end = time.time() + timeout
        try:
            while proc.poll() is None:
                stuck = hopeless_jobs()
                assert not stuck, f"SLURM jobs that can never start: {stuck}\n" + log.read_text()[-3000:]
                assert time.time() < end, f"snakemake still running after {timeout} s\n" + log.read_text()[-3000:]
                time.sleep(3)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                subprocess.run(["scancel", "--user", "root"], capture_output=True)
    output = log.read_text()
    assert proc.returncode == 0, output[-5000:]
    return output


def dataset(work: Path):
    make_class_folders(work / "data", per_class=8)  # 24 clips
    write_config(
        work,
        {
            "dataset": {"kind": "folder", "path": "data"},
            "spectrogram": TINY_SPECTROGRAM,
            "split": {"test_ratio": 0.25, "val_ratio": 0.25},
            "train": TINY_TRAIN | {"threads": 1},
        },
    )


def test_the_workflow_runs_through_slurm_with_grouped_spectrograms_and_matches_a_local_run(slurm_cluster, tmp_path):
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    dataset(local)
    dataset(cluster)
    t0 = time.time()
    run_snakemake(local, "--cores", "2")
    local_s = time.time() - t0

    before = len(submitted_jobs())
    t0 = time.time()
    cores = str(min(2, node_cpus()))  # a group job asks for --cores CPUs: more than the node has never starts
    output = run_on_slurm(
        cluster,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--cores",
        cores,
        "--jobs",
        "10",
        "--default-resources",
        "slurm_partition=debug",
        "mem_mb=400",
        "runtime=10",
        "--group-components",
        f"spectrograms={CLIPS_PER_GROUP}",
        "--slurm-status-command",
        "squeue",  # no accounting database on this test cluster
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--latency-wait",
        "10",
    )
    cluster_s = time.time() - t0
    jobs = submitted_jobs()[before:]
    # 24 spectrograms in groups of 12, then split, train, evaluate; the rest are localrules
    expected = 24 // CLIPS_PER_GROUP + 3
    print(
        f"local run {local_s:.0f} s; SLURM run {cluster_s:.0f} s with {len(jobs)} submissions "
        f"(ungrouped it would be {24 + 3})"
    )
    assert len(jobs) == expected, "\n".join(jobs) + output[-3000:]
    assert all("JobState=COMPLETED" in j for j in jobs)
    assert fingerprints(cluster / "results" / "spectrograms") == fingerprints(local / "results" / "spectrograms")
    assert (cluster / "results" / "split.csv").read_bytes() == (local / "results" / "split.csv").read_bytes()
    assert (cluster / "results" / "metrics.json").is_file() and (cluster / "results" / "run.json").is_file()
