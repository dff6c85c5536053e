"""The accuracy experiment's one command (experiments/run_accuracy.py), on a tiny synthetic dataset."""

import subprocess
import sys

import yaml

from conftest import REPO, TINY_SPECTROGRAM, TINY_TRAIN, make_class_folders, no_slurm_env


def test_the_accuracy_experiment_runs_cross_validation_per_setting_and_writes_the_table(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=6)
    settings = {
        "base": {
            "dataset": {"kind": "folder", "path": str(data)},
            "spectrogram": TINY_SPECTROGRAM,
            "split": {"method": "cv", "cv_folds": 2, "val_ratio": 0.25},
            "train": TINY_TRAIN,
        },
        "settings": {
            "tiny": {"about": "the base as it is"},
            "grey": {"about": "greyscale", "spectrogram": {"colormap": "gray"}},
        },
    }
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
    cmd = [
        sys.executable,
        str(REPO / "experiments" / "run_accuracy.py"),
        "--settings-file",
        str(tmp_path / "settings.yaml"),
        "--out",
        str(tmp_path / "out"),
        "--cores",
        "2",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=no_slurm_env(), timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("tiny", "grey"):
        config = yaml.safe_load((tmp_path / "out" / name / "config.yaml").read_text())
        assert config["results_dir"] == "results"
        assert (tmp_path / "out" / name / "results" / "cv_metrics.json").is_file()
    assert yaml.safe_load((tmp_path / "out" / "grey" / "config.yaml").read_text())["spectrogram"]["colormap"] == "gray"
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| `tiny` | the base as it is |" in table and "| `grey` | greyscale |" in table
    assert table.startswith("Machine: ")
    # a second run finds both settings done and only rewrites the table
    again = subprocess.run(cmd, capture_output=True, text=True, env=no_slurm_env(), timeout=300)
    assert (
        again.returncode == 0
        and (tmp_path / "out" / "table.md").read_text().split("\n", 1)[1] == table.split("\n", 1)[1]
    )
    # a run killed earlier left Snakemake's lock: the command says how to lift it
    locks = tmp_path / "out" / "grey" / ".snakemake" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    summary = tmp_path / "out" / "grey" / "results" / "cv_metrics.json"
    (locks / "0.output.lock").write_text(f"{summary}\nresults/cv_metrics.json\n")
    summary.unlink()
    locked = subprocess.run(cmd, capture_output=True, text=True, env=no_slurm_env(), timeout=300)
    assert locked.returncode != 0 and "--unlock" in locked.stderr and "grey" in locked.stderr, locked.stderr[-2000:]
