"""Stopping promptly: a stop request that every dispatcher of a cluster sees at once.

An orchestrator sends SIGTERM to the cluster's main process and kills it after its grace period
(Docker 10 s, Kubernetes 30 s). django-q2 then waits for each worker's task to end, so a dispatcher
must learn of the stop itself: the main process creates a shared flag before it forks the workers
(`stop_flag_install`) and sets it on SIGTERM (`stop_request`). A worker that receives SIGTERM itself
(the whole process group signalled, or django-q2 ending a task past its timeout) ends at once as
before, unless a dispatcher run is under way: that run stops first (`worker_signals_install`). A dispatcher that
sees the flag stops claiming, hands back what it has not sent, and waits for what is in flight at most
`CALLBACKS_STOP_GRACE_S` from the stop.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

DEFAULT_STOP_GRACE_S = 10.0
# Kept back from the grace for writing the outcomes and for the cluster's own shutdown.
STOP_MARGIN_S = 1.5

# One byte of shared memory the cluster's processes inherit (fork). No lock: a process killed while
# reading or writing it (the OOM killer, SIGKILL) can leave nothing held that the others wait on.
_shared_flag: Any = None
_local_flag = threading.Event()
_stop_seen_at: float | None = None
_runs_under_way = 0
_terminate_after_run = False


def stop_grace_s() -> float:
    return float(getattr(settings, "CALLBACKS_STOP_GRACE_S", DEFAULT_STOP_GRACE_S))


def stop_flag_install() -> None:
    """In a cluster's main process, before it forks: the flag its workers inherit."""
    global _shared_flag
    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    _shared_flag = (context or multiprocessing).RawValue("b", 0)


def stop_request() -> None:
    """Ask every dispatcher of this cluster (and of this process) to stop."""
    _local_flag.set()
    if _shared_flag is not None:
        _shared_flag.value = 1


def stop_requested() -> bool:
    """Whether a stop was asked for; notes when this process first saw it (the grace counts from then)."""
    global _stop_seen_at
    if _local_flag.is_set() or (_shared_flag is not None and _shared_flag.value):
        if _stop_seen_at is None:
            _stop_seen_at = time.monotonic()
        return True
    return False


def stop_deadline() -> float:
    """The monotonic time by which a stopping dispatcher must have written everything and returned."""
    seen = _stop_seen_at if _stop_seen_at is not None else time.monotonic()
    return seen + max(0.0, stop_grace_s() - STOP_MARGIN_S)


def stop_reset() -> None:
    """Forget a stop (tests run several in one process)."""
    global _stop_seen_at
    _local_flag.clear()
    if _shared_flag is not None:
        _shared_flag.value = 0
    _stop_seen_at = None


def worker_signals_install(**_: Any) -> None:
    """In a cluster worker (django-q2's post_spawn): SIGTERM sent to the worker itself during a
    dispatcher run stops the run first (hands back, lets answers in, within the grace), then ends the
    worker as SIGTERM would have; outside a run it ends the worker at once."""
    signal.signal(signal.SIGTERM, _worker_sigterm)


@contextlib.contextmanager
def dispatch_running() -> Iterator[None]:
    """Marks a dispatcher run (and what its task does after it): a SIGTERM then waits for its end."""
    global _runs_under_way
    _runs_under_way += 1
    try:
        yield
    finally:
        _runs_under_way -= 1
        if not _runs_under_way and _terminate_after_run:
            _terminate()


def _worker_sigterm(signum: int, frame: Any) -> None:
    global _terminate_after_run
    stop_request()
    if _runs_under_way:
        _terminate_after_run = True
    else:
        _terminate()


def _terminate() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
