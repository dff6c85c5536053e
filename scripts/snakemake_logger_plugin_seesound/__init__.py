"""seesound's Snakemake logger (`--logger seesound`, set in the workflow profiles): a console a person can read.

Snakemake prints ~15 lines per job; a run over thousands of recordings scrolls by unreadably. This prints:
- one line per finished job of a rule with few jobs (`[ 88%  37/42] train`), and for a rule with many
  jobs (the spectrograms, the predictions) one progress line per rule at most every PROGRESS_EVERY_S
  seconds (`[ 43%  870/2002] spectrogram: 860 of 2000 done`);
- while a training runs, each new epoch line of its log (`train: epoch 12/90  train_loss 0.81 ...`);
- every warning and every error in full, as Snakemake's own formatter writes them (job errors with their
  log files, exceptions), and the lines that say what happened (`Nothing to be done`, the job table).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from dataclasses import dataclass

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

PROGRESS_EVERY_S = 2.0
MANY_JOBS = 20  # a rule with more finished jobs than this gets throttled progress lines instead of one each
TRAINING_RULES = ("train", "cv_train")
# Snakemake's chatter that says nothing a user acts on
QUIET_MESSAGES = re.compile(
    r"^(Select jobs to execute|Execute \d+ jobs|Using shell:|Provided cores:|Rules claiming more threads|"
    r"Conda environments: ignored|Assuming unrestricted shared filesystem|Complete log\(s\)|Using workflow specific "
    r"profile|Config file .* is extended|Building DAG of jobs|Singularity containers: ignored|"
    r"Job rate limit reached)"  # Snakemake's 100 jobs/s: once a pass when short jobs outrun it (77 of 110 lines)
)
EPOCH_LINE = re.compile(r"\[seesound\] (epoch \d+/\d+.*)$")


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    pass


class LogHandler(LogHandlerBase):
    def __post_init__(self) -> None:
        from snakemake.logging import DefaultFilter, DefaultFormatter

        s = self.common_settings
        self.snakemake_format = DefaultFormatter(s.quiet, s.show_failed_logs)
        self.snakemake_filter = DefaultFilter(s.quiet, s.debug_dag, s.verbose, s.dryrun, s.printshellcmds)
        self.dryrun = s.dryrun
        # where Snakemake's own handler writes: standard output for dry runs and --stdout, else standard error
        self.stream = sys.stdout if getattr(s, "stdout", False) else sys.stderr
        self.jobs: dict[int, dict] = {}  # jobid -> {rule, wildcards, log}
        self.finished: dict[str, int] = {}  # rule -> finished jobs
        self.last_line: dict[str, float] = {}  # rule -> when its last progress line was printed
        self.done, self.total = 0, 0
        self.per_rule: dict[str, int] = {}  # rule -> jobs to run (the job table)
        self.write_lock = threading.Lock()  # not `lock`: logging.Handler holds its own there
        self.watchers: dict[int, threading.Event] = {}

    # --- what the interface asks ---------------------------------------------------------------------------
    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False

    # --- output ---------------------------------------------------------------------------------------------
    def write(self, text: str) -> None:
        with self.write_lock:
            self.stream.write(text.rstrip("\n") + "\n")
            self.stream.flush()

    def full(self, record: logging.LogRecord) -> None:
        """A record as Snakemake itself would print it."""
        if self.snakemake_filter.filter(record) or getattr(record, "event", None) in (
            LogEvent.JOB_ERROR,
            LogEvent.GROUP_ERROR,
        ):
            text = self.snakemake_format.format(record)
            if text:
                self.write(text)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.handle_record(record)
        except Exception:  # the console must never take the run down
            self.handleError(record)

    def handle_record(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        if record.levelno >= logging.WARNING or event in (LogEvent.JOB_ERROR, LogEvent.GROUP_ERROR, LogEvent.ERROR):
            self.full(record)
            if event == LogEvent.JOB_ERROR:
                self.stop_watching(getattr(record, "jobid", None))
            return
        if self.dryrun:  # a dry run is read as a plan: Snakemake's own account of it
            self.full(record)
            return
        if event == LogEvent.JOB_INFO:
            jobid = record.jobid
            self.jobs[jobid] = {
                "rule": record.rule_name,
                "wildcards": dict(record.wildcards or {}),
                "log": list(record.log or []),
            }
            if record.rule_name in TRAINING_RULES and self.jobs[jobid]["log"]:
                self.watch_training(jobid, record.rule_name, self.jobs[jobid]["log"][0])
        elif event == LogEvent.PROGRESS:
            self.done, self.total = record.done, record.total  # Snakemake's count wins over ours
        elif event == LogEvent.JOB_FINISHED:
            self.job_finished(getattr(record, "job_id", None))
        elif event == LogEvent.RUN_INFO:
            stats = getattr(record, "stats", None) or {}
            self.total = int(stats.get("total", self.total) or 0)
            self.per_rule = {rule: int(n) for rule, n in stats.items() if rule != "total"}
            self.full(record)  # the table of jobs to run
        elif event in (LogEvent.WORKFLOW_STARTED, LogEvent.GROUP_INFO, LogEvent.RESOURCES_INFO, LogEvent.DEBUG_DAG):
            return
        elif event == LogEvent.SHELLCMD:
            self.full(record)
        elif event is None and record.levelno >= logging.INFO:
            message = record.getMessage() if record.msg is not None else ""
            if message and not QUIET_MESSAGES.match(message.strip()):
                self.write(message)

    def job_finished(self, jobid) -> None:
        job = self.jobs.pop(jobid, None)
        self.stop_watching(jobid)
        if job is None:
            return
        rule = job["rule"]
        self.finished[rule] = self.finished.get(rule, 0) + 1
        self.done = min(self.done + 1, self.total) if self.total else self.done + 1  # PROGRESS follows JOB_FINISHED
        done = self.done
        head = f"[{100 * done / max(self.total, 1):3.0f}% {done:>{len(str(self.total))}}/{self.total}]"
        if self.finished[rule] <= MANY_JOBS:
            what = ", ".join(f"{v}" for v in job["wildcards"].values())
            self.write(f"{head} {rule}" + (f" {what}" if what else ""))
            return
        now = time.monotonic()
        of = self.per_rule.get(rule)
        last = of is not None and self.finished[rule] >= of
        if last or now - self.last_line.get(rule, 0.0) >= PROGRESS_EVERY_S:
            self.last_line[rule] = now
            self.write(f"{head} {rule}: {self.finished[rule]}" + (f" of {of}" if of else "") + " done")

    # --- training progress ----------------------------------------------------------------------------------
    def watch_training(self, jobid: int, rule: str, log_path: str) -> None:
        stop = threading.Event()
        self.watchers[jobid] = stop

        def follow() -> None:
            position = 0
            while not stop.wait(PROGRESS_EVERY_S):
                try:
                    with open(log_path, encoding="utf-8", errors="replace") as f:
                        f.seek(position)
                        chunk = f.read()
                        position = f.tell()
                except OSError:
                    continue
                for line in chunk.splitlines():
                    m = EPOCH_LINE.search(line)
                    if m:
                        self.write(f"{rule}: {m.group(1)}")

        threading.Thread(target=follow, name=f"seesound-train-log-{jobid}", daemon=True).start()

    def stop_watching(self, jobid) -> None:
        stop = self.watchers.pop(jobid, None)
        if stop is not None:
            stop.set()
