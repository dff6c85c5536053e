"""Two fixes for Snakemake's scheduling loop, applied at start-up by rules/common.smk.

One pending re-evaluation timer (one_pending_reevaluation):

Snakemake (9.27.1, pinned) wakes its scheduling loop with a semaphore: every finished job releases it once,
and every pass of the loop that leaves ready jobs waiting (for cores, or for the job rate limit, which is
always set: `--max-jobs-per-timespan` defaults to 100/1s) starts a threading.Timer that releases it again
a second later. Those tokens never go away while jobs wait, so after N finished jobs the loop makes about
N passes a second, each with a new thread: the passes and threads grow with the run (thousands of clips
waiting for 2 cores, or folds waiting for a training) and at ~10 000 jobs Snakemake can no longer start a
thread (snakemake/snakemake#3804, open). One pending timer does what the timers are for: another pass
when the rate limit frees a slot, so that jobs it held back start (the many timers did that by firing
all the time; one timer due at that moment does it without).

SIGTERM without a deadlock (graceful_exit_outside_the_signal_handler): Snakemake's SIGTERM handler takes the
scheduler's lock, a plain (non-reentrant) Lock; Python runs signal handlers in the main thread, which is the
thread that holds that lock through most of each scheduling pass, so a SIGTERM that lands there waits for
itself for ever: 4 of 20 runs hung (`python bench/sigterm_stress.py --runs 20`, without the fix). The
handler now only writes a byte to a pipe; a thread started with the scheduler reads it and does Snakemake's
graceful exit from outside the handler (log "Will exit after finishing currently running jobs", wake the loop).
"""

from __future__ import annotations

import os
import threading
import time

_LOCK = threading.Lock()


def next_wake_up(now: float, delay: float, submitted, timespan: float) -> float:
    """When the loop should pass again: `delay` from now, or earlier, when the oldest job the rate limit
    counts (`submitted`: submission times, oldest first) leaves its window and frees a slot."""
    due = now + delay
    if submitted:
        due = min(due, max(now, submitted[0] + timespan))
    return due


def one_pending_reevaluation() -> bool:
    """Make Snakemake's JobScheduler keep at most one re-evaluation timer pending, due when the rate limit
    next frees a slot. True when applied (now or before), False when this Snakemake has no such method
    (another version: left as it is)."""
    try:
        from snakemake.scheduling.job_scheduler import JobScheduler
    except ImportError:
        return False
    original = getattr(JobScheduler, "_schedule_reevalutation", None)  # sic: Snakemake's spelling
    if original is None:
        return False
    if getattr(original, "one_pending", False):
        return True

    def schedule_reevaluation(self, delay) -> None:
        limiter = getattr(self, "job_rate_limiter", None)
        submitted = getattr(limiter, "_jobs", None) if limiter is not None else None
        due = next_wake_up(time.time(), delay, submitted, limiter.timespan if limiter is not None else delay)
        with _LOCK:
            pending = getattr(self, "_seesound_reevaluation", None)
            if pending is not None:
                if pending.due <= due + 0.001:
                    return  # the pending one wakes the loop in time
                pending.cancel()  # too late: replaced by an earlier one

            def wake() -> None:
                # cleared before the release: the pass it wakes must be free to schedule the next one, or
                # jobs held back by the rate limit could wait for a wake-up that never comes
                with _LOCK:
                    if getattr(self, "_seesound_reevaluation", None) is timer:
                        self._seesound_reevaluation = None
                self._open_jobs.release()

            timer = threading.Timer(max(0.0, due - time.time()), wake)
            timer.due = due
            timer.daemon = True  # never keeps a finished (or interrupted) run's process alive
            self._seesound_reevaluation = timer
            timer.start()

    schedule_reevaluation.one_pending = True
    JobScheduler._schedule_reevalutation = schedule_reevaluation
    return True


def relay_graceful_exit(scheduler, graceful_exit) -> None:
    """Give `scheduler` a pipe whose every byte makes a waiting thread call `graceful_exit(scheduler)`: the
    handler writes, the thread does the locking."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)  # a handler must never wait (a full pipe has a wake-up queued anyway)

    def relay() -> None:
        while os.read(read_end, 1):
            graceful_exit(scheduler)

    scheduler._seesound_graceful_exit_pipe = write_end
    threading.Thread(target=relay, name="seesound-graceful-exit", daemon=True).start()


def graceful_exit_outside_the_signal_handler() -> bool:
    """Make Snakemake's SIGTERM handler hand its work to a thread (module doc). True when applied (now or
    before), False when this Snakemake's JobScheduler has no exit_gracefully (left as it is)."""
    try:
        from snakemake.scheduling.job_scheduler import JobScheduler
    except ImportError:
        return False
    original_exit = getattr(JobScheduler, "exit_gracefully", None)
    if original_exit is None:
        return False
    if getattr(original_exit, "outside_the_handler", False):
        return True
    original_init = JobScheduler.__init__

    def __init__(self, *args, **kwargs):
        relay_graceful_exit(self, original_exit)  # before Snakemake's __init__ installs the handler
        original_init(self, *args, **kwargs)

    def exit_gracefully(self, *args) -> None:
        try:
            os.write(self._seesound_graceful_exit_pipe, b"x")
        except BlockingIOError:
            pass  # bytes already waiting: the relay is on its way
        except (AttributeError, OSError):
            self._user_kill = "graceful"  # no relay: seen at the loop's next pass (a finished job wakes it)

    exit_gracefully.outside_the_handler = True
    exit_gracefully.snakemake_exit = original_exit  # what the relay calls (tests use it too)
    JobScheduler.__init__ = __init__
    JobScheduler.exit_gracefully = exit_gracefully
    return True
