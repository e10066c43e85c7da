"""The account's events-per-second quota on the API: over it, 429 with `Retry-After`.

Counted per account in one-second windows of the shared cache (Redis at scale), so every web process
counts together; a request that reaches the view has at most the account's quota ahead of it. A cache
that does not answer lets requests through (logged): the quota protects the engine, not the data.

A process takes the window's events from the shared count in blocks of a fiftieth of the quota and
hands them out itself, so a busy producer costs the cache one round trip per block, not per event. The
count stays exact (a block is added atomically, and only what fits under the quota is granted); what
a process holds unused when the second ends lapses with it, so other processes may be refused up to a
block per process early. Quotas under 50 a second are counted one event at a time. A batch counts its
events, up to one second's quota.
"""

from __future__ import annotations

import logging
import math
import threading
import time

from django.core.cache import caches
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from callbacks.services.quotas import quotas_of

logger = logging.getLogger(__name__)

WINDOW_S = 1
KEY_FORMAT = "callbacks:quota:events:{account_id}:{window}"
# After the cache failed, this process counts nothing for this long: a cache that does not answer
# (a partition) would otherwise hold every request for its connect timeout.
CACHE_OUTAGE_PAUSE_S = 1.0

LEASE_SHARE = 50  # a process takes at most 1/LEASE_SHARE of the quota from the shared count at once

_cache_failed_at = -CACHE_OUTAGE_PAUSE_S
_leased: dict[tuple[object, int], int] = {}  # (account id, window) → events this process may still admit
_leased_lock = threading.Lock()


def _wall_clock() -> float:
    return time.time()


class AccountEventRateThrottle(BaseThrottle):
    """Events per second per account (its `events_per_s` quota), for the endpoints that emit events:
    each request counts as one event; a batch counts its other events once it is read (`events_admit`)."""

    def allow_request(self, request, view) -> bool:
        account = getattr(request.user, "account", None)
        if account is not None:
            events_admit(account, 1)
        return True


def events_admit(account, count: int) -> None:
    """Count `count` events of `account` in this second, or raise Throttled (429 with Retry-After).

    A batch counts as at most one second of the quota, so a batch larger than the quota is taken
    whole in a second of its own, never refused for its size alone."""
    global _cache_failed_at
    if time.monotonic() - _cache_failed_at < CACHE_OUTAGE_PAUSE_S:
        return
    limit = quotas_of(account).events_per_s
    count = min(count, max(limit, 1))
    now = _wall_clock()
    window = int(now // WINDOW_S)
    held = _leased_take(account.pk, window, count)
    if held == count:
        return
    wanted = max(count - held, limit // LEASE_SHARE, 1)
    key = KEY_FORMAT.format(account_id=account.pk, window=window)
    cache = caches["default"]
    try:
        total = wanted if cache.add(key, wanted, timeout=WINDOW_S + 1) else cache.incr(key, wanted)
    except Exception as error:  # the cache is down: let it through rather than refuse every producer
        _cache_failed_at = time.monotonic()
        logger.warning("api.quota_cache_failed", extra={"error": repr(error)})
        return
    granted = max(0, min(wanted, limit - (total - wanted)))
    if held + granted >= count:
        _leased_keep(account.pk, window, held + granted - count)
        return
    # Refused: what was taken stays this process's to admit later in the same second.
    _leased_keep(account.pk, window, held + granted)
    wait_s = math.ceil((window + 1) * WINDOW_S - now)
    logger.info("api.events_throttled", extra={"account_id": str(account.pk), "limit": limit})
    raise exceptions.Throttled(
        wait=max(1, wait_s),
        detail=f"This account may send at most {limit:,} events per second (its quota); retry after the "
        "time in Retry-After, or ask an operator to raise the quota.",
    )


def _leased_take(account_id, window: int, count: int) -> int:
    """Take up to `count` events from what this process holds of the account's window; how many."""
    with _leased_lock:
        left = _leased.get((account_id, window), 0)
        taken = min(left, count)
        if taken:
            _leased[(account_id, window)] = left - taken
        return taken


def _leased_keep(account_id, window: int, count: int) -> None:
    """Hold `count` more events of the account's window; what earlier windows left lapses."""
    with _leased_lock:
        for lapsed in [key for key in _leased if key[1] < window]:
            del _leased[lapsed]
        if count > 0:
            _leased[(account_id, window)] = _leased.get((account_id, window), 0) + count
