"""seesound.scheduler_fix: Snakemake's scheduling loop keeps one wake-up timer pending, not one per pass, and
its SIGTERM handler does not wait on the lock its own thread holds."""

import signal
import threading
from types import SimpleNamespace

from conftest import make_class_folders, run_snakemake, write_config
from seesound.scheduler_fix import (
    graceful_exit_outside_the_signal_handler,
    next_wake_up,
    one_pending_reevaluation,
    relay_graceful_exit,
)


def test_passes_while_a_wake_up_is_pending_start_no_new_timer_and_the_next_pass_may():
    from snakemake.scheduling.job_scheduler import JobScheduler

    assert one_pending_reevaluation() and one_pending_reevaluation()  # idempotent
    scheduler = SimpleNamespace(_open_jobs=threading.Semaphore(0))
    before = threading.active_count()
    for _ in range(50):  # fifty passes in a row with jobs waiting
        JobScheduler._schedule_reevalutation(scheduler, 0.2)
    assert threading.active_count() == before + 1
    assert scheduler._open_jobs.acquire(timeout=5)  # the one wake-up comes ...
    assert not scheduler._open_jobs.acquire(timeout=0.5)  # ... once
    # the pass it woke schedules the next one at once, even while the timer's thread may still be ending
    JobScheduler._schedule_reevalutation(scheduler, 0.1)
    assert scheduler._open_jobs.acquire(timeout=5)


def test_the_wake_up_is_due_when_the_rate_limit_frees_a_slot():
    assert next_wake_up(100.0, 1.0, [], 1.0) == 101.0  # nothing counted: the plain delay
    assert next_wake_up(100.0, 1.0, [99.25, 99.5], 1.0) == 100.25  # the oldest leaves the window
    assert next_wake_up(100.0, 1.0, [98.0], 1.0) == 100.0  # already free: at once
    assert next_wake_up(100.0, 1.0, [99.5], 60.0) == 101.0  # never later than the delay


def test_jobs_held_back_by_the_rate_limit_still_all_run(tmp_path):
    """One job a second: once a job ends before the second is over, nothing runs and only the timer's wake-up
    can start the next, so a lost wake-up would hang the run here (the timeout fails it)."""
    make_class_folders(tmp_path / "data", per_class=2)
    write_config(tmp_path, {"dataset": {"kind": "folder", "path": "data"}, "spectrogram": {"image_size": 32}})
    run_snakemake(tmp_path, "--cores", "2", "--max-jobs-per-timespan", "1/1s", "spectrograms", timeout=120)
    assert len(list((tmp_path / "results" / "spectrograms").rglob("*.png"))) == 6


def test_a_sigterm_during_a_scheduling_pass_returns_at_once_and_stops_the_run_after_the_pass():
    """Python runs the handler in the main thread, in the middle of whatever it does: here a pass holding the
    scheduler's lock, where Snakemake's own handler (`with self._lock`) waited for ever (bench/sigterm_stress.py)."""
    from snakemake.scheduling.job_scheduler import JobScheduler

    assert graceful_exit_outside_the_signal_handler() and graceful_exit_outside_the_signal_handler()  # idempotent
    scheduler = SimpleNamespace(_lock=threading.Lock(), _open_jobs=threading.Semaphore(0), _user_kill=None)
    relay_graceful_exit(scheduler, JobScheduler.exit_gracefully.snakemake_exit)
    handled, pass_over = threading.Event(), threading.Event()

    def scheduling_pass_interrupted_by_sigterm():
        with scheduler._lock:
            JobScheduler.exit_gracefully(scheduler, signal.SIGTERM, None)
            handled.set()
            pass_over.wait(5)

    threading.Thread(target=scheduling_pass_interrupted_by_sigterm, daemon=True).start()
    assert handled.wait(5), "the handler waited on the lock its own thread holds"
    assert not scheduler._open_jobs.acquire(timeout=0.3) and scheduler._user_kill is None  # the pass goes on
    pass_over.set()
    assert scheduler._open_jobs.acquire(timeout=5)  # then the loop is woken ...
    assert scheduler._user_kill == "graceful"  # ... to finish the running jobs and exit
