"""seesound's console (scripts/snakemake_logger_plugin_seesound): what a run over many recordings prints."""

import io
import logging
from types import SimpleNamespace

from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_logger_plugin_seesound import LogHandler, LogHandlerSettings


def console() -> LogHandler:
    settings = SimpleNamespace(
        quiet=None,
        debug_dag=False,
        verbose=False,
        dryrun=False,
        printshellcmds=False,
        show_failed_logs=True,
        stdout=False,
        nocolor=True,
    )
    handler = LogHandler(settings, LogHandlerSettings())
    handler.stream = io.StringIO()
    return handler


def record(msg="", level=logging.INFO, **extra) -> logging.LogRecord:
    r = logging.LogRecord("snakemake", level, __file__, 1, msg, None, None)
    r.__dict__.update(extra)
    return r


def test_many_short_jobs_print_a_few_progress_lines_and_no_scheduler_chatter():
    out = console()
    out.emit(record("Job stats", event=LogEvent.RUN_INFO, stats={"spectrogram": 200, "spectrograms": 1, "total": 201}))
    for jobid in range(200):
        out.emit(record("Select jobs to execute..."))
        out.emit(record("Job rate limit reached, waiting for free slots."))  # Snakemake, once a pass at 100 jobs/s
        out.emit(
            record(
                event=LogEvent.JOB_INFO, jobid=jobid, rule_name="spectrogram", wildcards={"clip": f"c{jobid}"}, log=[]
            )
        )
        out.emit(record(event=LogEvent.JOB_FINISHED, job_id=jobid))
    out.emit(record("Input file missing for clip c7", level=logging.WARNING))
    text = out.stream.getvalue()
    assert "rate limit" not in text and "Select jobs" not in text
    assert "[ 10%  20/201] spectrogram c19" in text  # the first 20 jobs of a rule: a line each
    assert "spectrogram: 200 of 200 done" in text  # the rule's last job always gets its line
    assert "Input file missing for clip c7" in text  # warnings in full
    assert len(text.splitlines()) < 40, text
