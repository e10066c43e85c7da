"""Stopping promptly: a stop request that every dispatcher of a cluster sees at once.

An orchestrator sends SIGTERM to the cluster's main process and kills it after its grace period
(Docker 10 s, Kubernetes 30 s). django-q2 then waits for each worker's task to end, so a dispatcher
must learn of the stop itself: the main process creates a shared flag before it forks the workers
(`stop_flag_install`) and sets it on SIGTERM (`stop_request`); a worker that receives SIGTERM itself
(the whole process group signalled) sets its own copy (`worker_signals_install`). A dispatcher that
sees the flag stops claiming, hands back what it has not sent, and waits for what is in flight at most
`CALLBACKS_STOP_GRACE_S` from the stop.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

DEFAULT_STOP_GRACE_S = 10.0
# Kept back from the grace for writing the outcomes and for the cluster's own shutdown.
STOP_MARGIN_S = 1.5

_shared_flag: Any = None  # a multiprocessing Event shared by a cluster's processes (fork)
_local_flag = threading.Event()
_stop_seen_at: float | None = None


def stop_grace_s() -> float:
    return float(getattr(settings, "CALLBACKS_STOP_GRACE_S", DEFAULT_STOP_GRACE_S))


def stop_flag_install() -> None:
    """In a cluster's main process, before it forks: the flag its workers inherit."""
    global _shared_flag
    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    _shared_flag = context.Event() if context else multiprocessing.Event()


def stop_request() -> None:
    """Ask every dispatcher of this cluster (and of this process) to stop."""
    _local_flag.set()
    if _shared_flag is not None:
        _shared_flag.set()


def stop_requested() -> bool:
    """Whether a stop was asked for; notes when this process first saw it (the grace counts from then)."""
    global _stop_seen_at
    if _local_flag.is_set() or (_shared_flag is not None and _shared_flag.is_set()):
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
        _shared_flag.clear()
    _stop_seen_at = None


def worker_signals_install(**_: Any) -> None:
    """In a cluster worker (django-q2's post_spawn): SIGTERM sent to the worker itself asks for a stop
    instead of killing it mid-request; the task then returns, and the worker ends with its cluster."""
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_request())
