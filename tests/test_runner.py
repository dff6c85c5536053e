"""The glue between Snakemake's script: jobs and the modules: what lands in a rule's log."""

import os
import subprocess
import sys

from seesound.runner import file_logger, output_to_log


def test_python_and_c_level_output_go_to_the_log_and_come_back_after(tmp_path):
    log = tmp_path / "logs" / "train.log"
    code = (
        "import os, sys\n"
        "from seesound.runner import output_to_log\n"
        f"with output_to_log({str(log)!r}):\n"
        "    print('from python'); print('python stderr', file=sys.stderr)\n"
        "    os.write(1, b'from C, stdout\\n'); os.write(2, b'from C, stderr\\n')\n"
        "print('after')\n"
    )
    # a process of its own, as a script: job has (pytest replaces this one's sys.stdout)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    text = log.read_text()
    for line in ("from python", "python stderr", "from C, stdout", "from C, stderr", "[seesound] finished in"):
        assert line in text
    assert proc.stdout == "after\n" and proc.stderr == "" and "after" not in text


def test_without_a_log_output_stays_where_it_was(capfd):
    with output_to_log(None):
        print("to the console")
    assert "to the console" in capfd.readouterr().out


def test_file_logger_appends_lines_without_touching_the_process_streams(tmp_path, capfd):
    log = file_logger(tmp_path / "a" / "b.log")
    log("first")
    log("second")
    assert (tmp_path / "a" / "b.log").read_text() == "first\nsecond\n"
    assert capfd.readouterr().out == ""


def test_cpu_threads_are_set_before_torch_starts():
    code = (
        "from seesound.runner import use_cpu_threads; use_cpu_threads(1); import torch; print(torch.get_num_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "1"
