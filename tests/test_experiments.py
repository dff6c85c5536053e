"""The accuracy experiment's one command (experiments/run_accuracy.py), on a tiny synthetic dataset."""

import json
import subprocess
import sys

import pandas as pd
import yaml

from conftest import REPO, TINY_SPECTROGRAM, TINY_TRAIN, make_class_folders, no_slurm_env


def test_the_accuracy_experiment_runs_cross_validation_per_setting_and_writes_the_table(tmp_path):
    data = make_class_folders(tmp_path / "data", per_class=6)
    settings = {
        "base": {
            "dataset": {"kind": "folder", "path": str(data)},
            "spectrogram": TINY_SPECTROGRAM,
            "split": {"method": "cv", "cv_folds": 2, "cv_val_ratio": 0.25},
            "train": TINY_TRAIN,
        },
        "settings": {
            "tiny": {"about": "the base as it is"},
            "grey": {"about": "greyscale", "spectrogram": {"colormap": "gray"}, "train": {"ensemble": 2}},
        },
    }
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
    records = tmp_path / "records"
    cmd = [
        sys.executable,
        str(REPO / "experiments" / "run_accuracy.py"),
        "--settings-file",
        str(tmp_path / "settings.yaml"),
        "--out",
        str(tmp_path / "out"),
        "--records",
        str(records),
        "--cores",
        "2",
    ]
    # one fold's job chain alone: recorded, and the table says which folds it holds
    one = subprocess.run([*cmd, "--only", "tiny", "--folds", "1"], capture_output=True, text=True, env=no_slurm_env())
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    assert sorted(p.name for p in (records / "tiny").iterdir()) == ["fold1.json"]
    assert not (tmp_path / "out" / "tiny" / "results" / "cv_metrics.json").exists()
    (tiny_row,) = [r for r in (tmp_path / "out" / "table.md").read_text().splitlines() if r.startswith("| `tiny`")]
    assert tiny_row.startswith("| `tiny` | the base as it is | 1 | **") and "±" not in tiny_row  # one fold: no spread
    proc = subprocess.run(cmd, capture_output=True, text=True, env=no_slurm_env(), timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in (records / "grey").iterdir()) == ["fold1.json", "fold2.json"]
    for name in ("tiny", "grey"):
        config = yaml.safe_load((tmp_path / "out" / name / "config.yaml").read_text())
        assert config["results_dir"] == "results"
        assert (tmp_path / "out" / name / "results" / "cv_metrics.json").is_file()
    assert yaml.safe_load((tmp_path / "out" / "grey" / "config.yaml").read_text())["spectrogram"]["colormap"] == "gray"
    # an ensemble's training time is every member's
    benches = sorted(
        (tmp_path / "out" / "grey" / "results" / "logs" / "benchmarks" / "cv" / "fold1").glob("train*.tsv")
    )
    assert [b.name for b in benches] == ["train.tsv", "train_member2.tsv"]
    cpu = sum(float(pd.read_csv(b, sep="\t")["cpu_time"].iloc[-1]) for b in benches)
    assert json.loads((records / "grey" / "fold1.json").read_text())["train_cpu_s"] == round(cpu, 1)
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| `tiny` | the base as it is | 1 2 | **" in table and "| `grey` | greyscale | 1 2 | **" in table
    assert all(" ± " in row for row in table.splitlines() if row.startswith(("| `tiny`", "| `grey`")))
    assert table.startswith("Machine: ")
    # the table is rebuilt from the records alone, where nothing ran
    rebuilt = subprocess.run(
        [*cmd, "--out", str(tmp_path / "elsewhere"), "--table-only"], capture_output=True, text=True, env=no_slurm_env()
    )
    assert rebuilt.returncode == 0 and (tmp_path / "elsewhere" / "table.md").read_text() == table, rebuilt.stderr
    assert not (tmp_path / "elsewhere" / "tiny").exists()
    # a record made with another config is left out, with a warning naming it
    stale = records / "grey" / "fold1.json"
    record = json.loads(stale.read_text())
    record["config"]["spectrogram"]["colormap"] = "viridis"
    record["effective_config"]["spectrogram"]["colormap"] = "viridis"  # the full config it ran, config.yaml under it
    stale.write_text(json.dumps(record))
    partial = subprocess.run([*cmd, "--table-only"], capture_output=True, text=True, env=no_slurm_env())
    assert partial.returncode == 0 and f"{stale} was made with another config" in partial.stderr, partial.stderr
    assert "| `grey` | greyscale | 2 | **" in (tmp_path / "out" / "table.md").read_text()
    # so is one made when config.yaml had another default (the setting's own keys unchanged)
    old_default = records / "tiny" / "fold2.json"
    record = json.loads(old_default.read_text())
    assert record["effective_config"]["train"]["optimizer"] == "auto"  # config.yaml's, under the setting's keys
    record["effective_config"]["train"]["optimizer"] = "SGD"
    old_default.write_text(json.dumps(record))
    partial = subprocess.run([*cmd, "--table-only"], capture_output=True, text=True, env=no_slurm_env())
    assert f"{old_default} was made with other defaults" in partial.stderr, partial.stderr
    assert "| `tiny` | the base as it is | 1 | **" in (tmp_path / "out" / "table.md").read_text()
    del record["effective_config"]  # a record from before records kept it is taken on its config alone
    old_default.write_text(json.dumps(record))
    # a second run finds both settings done and only rewrites the table
    again = subprocess.run(cmd, capture_output=True, text=True, env=no_slurm_env(), timeout=300)
    assert (
        again.returncode == 0
        and (tmp_path / "out" / "table.md").read_text().split("\n", 1)[1] == table.split("\n", 1)[1]
    )

    def compare_time_rolls(*args):
        done = subprocess.run(
            [
                sys.executable,
                str(REPO / "experiments" / "compare_time_rolls.py"),
                str(tmp_path / "out" / "tiny"),
                *args,
            ],
            capture_output=True,
            text=True,
            env=no_slurm_env(),
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    # the finished folds classified again at other time-roll counts agree with the workflow's evaluation (4
    # rolls, the default), and a second setting's models average in
    header, _index, *rows = compare_time_rolls("--rolls", "1,4", "--with", str(tmp_path / "out" / "grey"))
    assert header.split()[-8:] == ["rolls", "1", "rolls", "4", "with", "grey,", "rolls", "4"]
    assert [row.split()[0] for row in rows] == ["1", "2", "mean"]
    for row in rows[:2]:
        fold, _once, four, _both = row.split()
        top1 = json.loads((records / "tiny" / f"fold{fold}.json").read_text())["metrics"]["test"]["top1"]
        assert abs(float(four) - 100 * top1) < 0.01
    # band shifts averaged at test time: the levels read back and coloured again unshifted give the
    # workflow's images exactly, so the set "0" scores what 4 rolls score
    header, _index, *rows = compare_time_rolls("--rolls", "4", "--band-shifts=0;-2,0,2")
    assert "bands -2,0,2" in header and len(rows) == 3
    for row in rows:
        _fold, four, unshifted, three = row.split()
        assert four == unshifted and 0 <= float(three) <= 100
    # a fine-tuning setting starts each test fold from the pre-trained setting's model for that same fold
    fine_tune = {
        "base": settings["base"],
        "settings": {"tuned": {"about": "fine-tuned", "pretrained": {"settings_file": "s.yaml", "setting": "tiny"}}},
    }
    (tmp_path / "fine_tune.yaml").write_text(yaml.safe_dump(fine_tune))
    tune_cmd = [*cmd, "--settings-file", str(tmp_path / "fine_tune.yaml")]
    no_folds = subprocess.run(tune_cmd, capture_output=True, text=True, env=no_slurm_env())
    assert no_folds.returncode != 0 and "give --folds" in no_folds.stderr, no_folds.stderr[-2000:]
    missing = subprocess.run([*tune_cmd, "--folds", "3"], capture_output=True, text=True, env=no_slurm_env())
    assert missing.returncode != 0 and "fold3/model/weights/last.pt does not exist" in missing.stderr
    tuned = subprocess.run([*tune_cmd, "--folds", "2"], capture_output=True, text=True, env=no_slurm_env(), timeout=300)
    assert tuned.returncode == 0, tuned.stdout[-3000:] + tuned.stderr[-3000:]
    checkpoint = tmp_path / "out" / "tiny" / "results" / "cv" / "fold2" / "model" / "weights" / "last.pt"
    fold_dir = tmp_path / "out" / "tuned" / "fold2"
    assert yaml.safe_load((fold_dir / "config.yaml").read_text())["train"]["model"] == str(checkpoint)
    card = json.loads((fold_dir / "results" / "cv" / "fold2" / "model" / "model_card.json").read_text())
    assert card["trained"]["model"] == str(checkpoint)
    record = json.loads((records / "tuned" / "fold2.json").read_text())
    assert record["config"]["train"]["model"] == "tiny/results/cv/fold2/model/weights/last.pt"  # not where it ran
    assert sorted(p.name for p in (records / "tuned").iterdir()) == ["fold2.json"]
    assert "| `tuned` | fine-tuned | 2 | **" in (tmp_path / "out" / "table.md").read_text()
    # a run killed earlier left Snakemake's lock: the command says how to lift it
    locks = tmp_path / "out" / "grey" / ".snakemake" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    summary = tmp_path / "out" / "grey" / "results" / "cv_metrics.json"
    (locks / "0.output.lock").write_text(f"{summary}\nresults/cv_metrics.json\n")
    summary.unlink()
    locked = subprocess.run(cmd, capture_output=True, text=True, env=no_slurm_env(), timeout=300)
    assert locked.returncode != 0 and "--unlock" in locked.stderr and "grey" in locked.stderr, locked.stderr[-2000:]


def test_every_committed_record_still_counts_in_its_table():
    """A new config key changes every record's effective config: the records made before it must be amended
    (or the key's default must change nothing), or README's tables silently lose their rows."""
    for settings_file in sorted((REPO / "experiments").glob("*.yaml")):
        spec = yaml.safe_load(settings_file.read_text())
        if "settings" not in spec or not (REPO / "experiments" / "records" / settings_file.stem).is_dir():
            continue
        out = subprocess.run(
            [sys.executable, str(REPO / "experiments" / "run_accuracy.py"), "--settings-file", str(settings_file)]
            + ["--table-only"],
            capture_output=True,
            text=True,
            check=True,
            env=no_slurm_env(),
        )
        assert "left out of the table" not in out.stderr, out.stderr


def load_run_accuracy():
    """experiments/run_accuracy.py as a module (experiments/ is scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_accuracy", REPO / "experiments" / "run_accuracy.py")
    run_accuracy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_accuracy)
    return run_accuracy


def test_a_record_names_the_cpu_by_family_and_model(tmp_path):
    """Virtual machines may name only the vendor ("AMD EPYC"), and two CPUs of that name trained one seed to
    other weights: the record must tell them apart."""
    cpuinfo = tmp_path / "cpuinfo"
    lines = ["processor\t: 0", "cpu family\t: 25", "model\t\t: 17", "model name\t: AMD EPYC", "processor\t: 1"]
    cpuinfo.write_text("\n".join(lines + ["model name\t: other"]) + "\n")
    assert load_run_accuracy().cpu_name(cpuinfo) == "AMD EPYC (family 25 model 17)"


def test_a_record_made_before_a_key_existed_is_read_with_the_value_it_ran_with():
    """Records made before `train.precision` existed trained in float32: read as `fp32`, so they count for a
    setting that pins fp32 and never for today's `auto` (bfloat16 where the CPU has it); those made before
    `train.ensemble` trained one model."""
    run_accuracy = load_run_accuracy()
    old = {"fold": 1, "config": {"split": {"method": "cv"}}, "effective_config": {"train": {"epochs": 90}}}
    read = run_accuracy.as_of_today(old)
    assert read["config"]["train"] == {"precision": "fp32", "ensemble": 1}
    assert read["effective_config"]["train"] == {"epochs": 90, "precision": "fp32", "ensemble": 1}
    assert old["config"] == {"split": {"method": "cv"}}  # the record itself is left as it was
    # made since: the full config has the key, the setting's own config may not (config.yaml's value)
    new = {"fold": 1, "config": {}, "effective_config": {"train": {"precision": "auto", "ensemble": 3}}}
    assert run_accuracy.as_of_today(new) == new
    # made between the two keys: only the later one is added
    between = {"fold": 1, "config": {}, "effective_config": {"train": {"precision": "auto"}}}
    assert run_accuracy.as_of_today(between)["effective_config"]["train"] == {"precision": "auto", "ensemble": 1}


def test_a_record_counts_where_its_setting_pins_what_config_yaml_has_changed_since(tmp_path):
    """A default changing leaves out every record made under the old one, until its setting pins the old
    value; a record that kept its effective config is then compared on that alone."""
    import copy

    run_accuracy = load_run_accuracy()
    today = yaml.safe_load((REPO / "config.yaml").read_text())
    then = copy.deepcopy(today)
    then["train"]["weight_decay"] = today["train"]["weight_decay"] * 3 + 1  # a default since changed
    then["split"]["method"] = "cv"
    record = {"fold": 1, "config": {"split": {"method": "cv"}}, "effective_config": then, "metrics": {}}
    (tmp_path / "fold1.json").write_text(json.dumps(record))
    unpinned = {"split": {"method": "cv"}}
    pinned = {"split": {"method": "cv"}, "train": {"weight_decay": then["train"]["weight_decay"]}}
    assert run_accuracy.read_records("x", lambda fold: unpinned, tmp_path, tmp_path) == []
    assert [r["fold"] for r in run_accuracy.read_records("x", lambda fold: pinned, tmp_path, tmp_path)] == [1]


def test_a_record_made_before_cv_val_ratio_reads_its_val_ratio_as_the_cv_val_share():
    run_accuracy = load_run_accuracy()
    today = yaml.safe_load((REPO / "config.yaml").read_text())
    effective = {"split": {"method": "cv", "val_ratio": 0.02}, "train": {"precision": "auto", "ensemble": 1}}
    record = {"fold": 1, "config": {"split": {"val_ratio": 0.02}}, "effective_config": effective}
    read = run_accuracy.as_of_today(record)
    assert read["config"]["split"] == {"cv_val_ratio": 0.02}
    assert read["effective_config"]["split"] == {
        "method": "cv",
        "cv_val_ratio": 0.02,
        "val_ratio": today["split"]["val_ratio"],  # unused by a cross-validation
    }
    # the first records (no effective config) ran with the defaults of their day, as their settings pin
    first = run_accuracy.as_of_today({"fold": 1, "config": {"split": {"method": "cv"}}})
    assert first["config"]["split"]["cv_val_ratio"] == 0.1 and first["config"]["train"]["patience"] == 50
