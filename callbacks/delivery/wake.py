"""Wake-ups and help requests: the first step of delivery, asking a worker to run the engine.

After an event commits, `wake_request` queues one *wake* (coalesced: at most one queued at a time);
while claims keep coming back full, the engine's `help_request` asks for one more worker (a *help*).
The database stays the source of truth: a lost wake or help only delays work until the per-minute
*sweep* (see docs/engine.md, the glossary).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django_q.tasks import async_task

logger = logging.getLogger(__name__)

WAKE_QUEUED_KEY = "callbacks:dispatch-wakeup-queued"
# A wake lost with a killed cluster blocks the next ones at most this long; a wake still queued behind
# busy workers after it is joined by a second one (cheap: it finds little or nothing left to claim).
WAKE_FLAG_TTL_S = 2
# Within this many seconds of seeing the flag set, this process does not look again (a burst costs one
# cache read per window, not one per event). Must stay well under the dispatcher's linger.
WAKE_FLAG_REUSE_S = 0.02
# After the cache or the broker failed, this process queues no wake for this long (the sweep covers it).
WAKE_OUTAGE_PAUSE_S = 1.0
HELP_QUEUED_KEY = "callbacks:dispatch-help-queued"
HELP_INTERVAL_S = 1  # while a backlog lasts, one more worker is asked for at most this often
WAKE_TASK = "callbacks.tasks.dispatch_on_wake"
HELP_TASK = "callbacks.tasks.dispatch_on_help"

_flag_seen_at = -1.0


def _cache():
    return caches[getattr(settings, "CALLBACKS_WAKEUP_CACHE", "default")]


def worker_id_new() -> str:
    """A name for one dispatcher run: host, process and a random part, unique across machines."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def wake_request() -> bool:
    """Queue a wake unless one is already queued (coalesced). Call after commit.

    Returns whether a task was queued. The woken dispatcher clears the flag before it claims, so
    work committed before the clear is claimed by it and work committed after queues a new wake.
    A cache or broker that is down is logged and absorbed: the caller has committed its work already.
    """
    global _flag_seen_at
    now = time.monotonic()
    if now - _flag_seen_at < WAKE_FLAG_REUSE_S:
        # Seen queued moments ago: the task that clears it lingers longer than this, so it sees our work.
        return False
    _flag_seen_at = now
    try:
        if not _cache().add(WAKE_QUEUED_KEY, 1, timeout=WAKE_FLAG_TTL_S):
            return False
    except Exception:  # the cache is down: the sweep will find the work
        _outage_pause(now)
        logger.warning("dispatch.wake_flag_failed", exc_info=True)
        return False
    try:
        async_task(WAKE_TASK, task_name="callbacks dispatch wake-up", save=False)
    except Exception:  # the broker is down: the sweep will find the work
        _outage_pause(now)
        wake_flag_clear()
        logger.warning("dispatch.wake_enqueue_failed", exc_info=True)
        return False
    return True


def wake_request_on_commit() -> None:
    """Queue a wake once the current transaction commits (never before the work is visible)."""
    transaction.on_commit(wake_request)


def help_request() -> bool:
    """Ask one more worker to join a backlog: a help queued at most once per HELP_INTERVAL_S across
    the installation. Asked again while the backlog lasts, unlike a wake, since a request can wait in
    a cluster whose workers are all busy while another cluster's sit idle."""
    try:
        if not _cache().add(HELP_QUEUED_KEY, 1, timeout=HELP_INTERVAL_S):
            return False
        async_task(HELP_TASK, task_name="callbacks dispatch help", save=False)
    except Exception:  # the cache or broker is down: the workers already running go on
        logger.warning("dispatch.help_request_failed", exc_info=True)
        return False
    return True


def wake_flag_clear() -> None:
    """Let the next committed work queue a new wake (the woken dispatcher calls this before claiming)."""
    try:
        _cache().delete(WAKE_QUEUED_KEY)
    except Exception:  # the cache is down: the flag ends with its TTL
        logger.warning("dispatch.wake_flag_clear_failed", exc_info=True)


def wake_on_start() -> bool:
    """A cluster starting looks for due work at once: a backlog left by a stopped or killed cluster
    does not wait for new events or the sweep. The flag a killed cluster left set is cleared first."""
    wake_memory_clear()
    wake_flag_clear()
    return wake_request()


def wake_memory_clear() -> None:
    """Forget having seen the flag (tests start each case afresh)."""
    global _flag_seen_at
    _flag_seen_at = -1.0


def _outage_pause(now: float) -> None:
    # Each try against a store that is down costs a connection attempt and a log line: skip a while.
    global _flag_seen_at
    _flag_seen_at = now + WAKE_OUTAGE_PAUSE_S
