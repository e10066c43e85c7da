"""django-q2 entry points of the delivery engine. Thin: they call the engine and log.

The database is the source of truth: a wake-up only shortens the wait. Losing every queued task
loses no delivery, because `dispatch_sweep` runs every minute and finds due work in the database.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

logger = logging.getLogger(__name__)

WAKEUP_QUEUED_KEY = "callbacks:dispatch-wakeup-queued"
WAKEUP_FLAG_TTL_S = 30  # a lost wake-up blocks the next ones at most this long (the sweep covers the gap)
# Within this many seconds of seeing the flag set, this process does not look again (a burst costs one
# cache read per window, not one per event). Must stay well under the dispatcher's linger.
WAKEUP_FLAG_REUSE_S = 0.02
# After the cache or the broker failed, this process queues no wake-up for this long (the sweep covers it).
WAKEUP_OUTAGE_PAUSE_S = 1.0
_flag_seen_at = -1.0
HELP_QUEUED_KEY = "callbacks:dispatch-help-queued"
HELP_INTERVAL_S = 1  # while a backlog lasts, one more worker is asked for at most this often
SWEEP_SCHEDULE_NAME = "callbacks.dispatch_sweep"
PURGE_SCHEDULE_NAME = "callbacks.retention_purge"


def _wakeup_cache():
    return caches[getattr(settings, "CALLBACKS_WAKEUP_CACHE", "default")]


def worker_id_new() -> str:
    """A name for one dispatcher run: host, process and a random part, unique across machines."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def dispatcher_wake() -> bool:
    """Queue a `dispatch_wakeup` unless one is already queued (coalesced). Call after commit.

    Returns whether a task was queued. The running dispatcher clears the flag before it claims,
    so work committed before the clear is claimed by it and work committed after queues a new one.
    A cache or broker that is down is logged and absorbed: the caller has committed its work already.
    """
    global _flag_seen_at
    now = time.monotonic()
    if now - _flag_seen_at < WAKEUP_FLAG_REUSE_S:
        # Seen queued moments ago: the task that clears it lingers longer than this, so it sees our work.
        return False
    _flag_seen_at = now
    try:
        if not _wakeup_cache().add(WAKEUP_QUEUED_KEY, 1, timeout=WAKEUP_FLAG_TTL_S):
            return False
    except Exception:  # the cache is down: the sweep will find the work
        _outage_pause(now)
        logger.warning("dispatch.wakeup_flag_failed", exc_info=True)
        return False
    from django_q.tasks import async_task

    try:
        async_task("callbacks.tasks.dispatch_wakeup", task_name="callbacks dispatch wake-up", save=False)
    except Exception:  # the broker is down: the sweep will find the work
        _outage_pause(now)
        _wakeup_flag_clear()
        logger.warning("dispatch.wakeup_enqueue_failed", exc_info=True)
        return False
    return True


def dispatcher_help() -> bool:
    """Ask one more worker to join a backlog: a `dispatch_help` queued at most once per HELP_INTERVAL_S
    across the installation. Asked again while the backlog lasts, unlike a wake-up, since a request
    can wait in a cluster whose workers are all busy while another cluster's sit idle."""
    try:
        if not _wakeup_cache().add(HELP_QUEUED_KEY, 1, timeout=HELP_INTERVAL_S):
            return False
        from django_q.tasks import async_task

        async_task("callbacks.tasks.dispatch_help", task_name="callbacks dispatch help", save=False)
    except Exception:  # the cache or broker is down: the workers already running go on
        logger.warning("dispatch.help_request_failed", exc_info=True)
        return False
    return True


def _outage_pause(now: float) -> None:
    # Each try against a store that is down costs a connection attempt and a log line: skip a while.
    global _flag_seen_at
    _flag_seen_at = now + WAKEUP_OUTAGE_PAUSE_S


def _wakeup_flag_clear() -> None:
    try:
        _wakeup_cache().delete(WAKEUP_QUEUED_KEY)
    except Exception:  # the cache is down: the flag ends with its TTL
        logger.warning("dispatch.wakeup_flag_clear_failed", exc_info=True)


def wakeup_memory_clear() -> None:
    """Forget having seen the flag (tests start each case afresh)."""
    global _flag_seen_at
    _flag_seen_at = -1.0


def dispatcher_wake_on_commit() -> None:
    transaction.on_commit(dispatcher_wake)


def dispatch_wakeup() -> int:
    """Deliver until no work is due (or the run's time budget is spent, then hand over to a new wake-up)."""
    from callbacks.engine import dispatch_run

    _wakeup_flag_clear()
    result = dispatch_run(worker_id=worker_id_new(), on_backlog=dispatcher_help)
    if result.budget_spent:
        dispatcher_wake()
    logger.info("dispatch.wakeup_done", extra={"processed": result.processed, "budget_spent": result.budget_spent})
    return result.processed


def dispatch_help() -> int:
    """A worker joining a backlog: delivers while work is due and ends as soon as none is (a request
    that waited in a queue past the backlog costs one look at the due index)."""
    from callbacks.engine import dispatch_run

    result = dispatch_run(worker_id=worker_id_new(), linger_s=0, on_backlog=dispatcher_help)
    if result.budget_spent:
        dispatcher_wake()
    return result.processed


def dispatch_sweep() -> int:
    """The per-minute schedule: retries that fell due, expired leases, deferred batches."""
    from callbacks.engine import dispatch_run

    result = dispatch_run(worker_id=worker_id_new(), on_backlog=dispatcher_help)
    if result.budget_spent:
        dispatcher_wake()
    return result.processed


def retention_purge() -> int:
    """The daily schedule: attempts and event payloads older than CALLBACKS_RETENTION_DAYS go."""
    from callbacks.retention import retention_purge as purge

    return purge()


def schedules_register(*args: Any, **kwargs: Any) -> None:
    """Create or update the engine's django-q2 schedules by name (post_migrate; idempotent)."""
    from django_q.models import Schedule

    wanted = {
        SWEEP_SCHEDULE_NAME: {
            "func": "callbacks.tasks.dispatch_sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
        PURGE_SCHEDULE_NAME: {
            "func": "callbacks.tasks.retention_purge",
            "schedule_type": Schedule.HOURLY,
            "repeats": -1,
        },
    }
    for name, values in wanted.items():
        schedule = Schedule.objects.filter(name=name).first()
        if schedule is None:
            Schedule.objects.create(name=name, **values)
        elif any(getattr(schedule, field) != value for field, value in values.items()):
            Schedule.objects.filter(pk=schedule.pk).update(**values)
