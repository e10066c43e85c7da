"""The account's events-per-second quota on the API: over it, 429 with `Retry-After`.

Counted per account in one-second windows of the shared cache (Redis at scale), so every web process
counts together; a request that reaches the view has at most the account's quota ahead of it. A cache
that does not answer lets requests through (logged): the quota protects the engine, not the data.

A process takes the window's events from the shared count in blocks of a fiftieth of the quota and
hands them out itself, so a busy producer costs the cache one round trip per block, not per event. The
count stays exact (a block is added atomically, and only what fits under the quota is granted); what
a process holds unused when the second ends lapses with it, so other processes may be refused up to a
block per process early. Quotas under 50 a second are counted one event at a time.
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
    """Events per second per account (its `events_per_s` quota), for the endpoints that emit events."""

    def allow_request(self, request, view) -> bool:
        global _cache_failed_at
        account = getattr(request.user, "account", None)
        if account is None or time.monotonic() - _cache_failed_at < CACHE_OUTAGE_PAUSE_S:
            return True
        limit = quotas_of(account).events_per_s
        now = _wall_clock()
        window = int(now // WINDOW_S)
        if _leased_take(account.pk, window):
            return True
        block = max(1, limit // LEASE_SHARE)
        key = KEY_FORMAT.format(account_id=account.pk, window=window)
        cache = caches["default"]
        try:
            count = block if cache.add(key, block, timeout=WINDOW_S + 1) else cache.incr(key, block)
        except Exception as error:  # the cache is down: let it through rather than refuse every producer
            _cache_failed_at = time.monotonic()
            logger.warning("api.quota_cache_failed", extra={"error": repr(error)})
            return True
        granted = min(block, limit - (count - block))
        if granted > 0:
            _leased_keep(account.pk, window, granted - 1)
            return True
        wait_s = math.ceil((window + 1) * WINDOW_S - now)
        logger.info("api.events_throttled", extra={"account_id": str(account.pk), "limit": limit})
        raise exceptions.Throttled(
            wait=max(1, wait_s),
            detail=f"This account may send at most {limit:,} events per second (its quota); retry after the "
            "time in Retry-After, or ask an operator to raise the quota.",
        )


def _leased_take(account_id, window: int) -> bool:
    """Admit one event from what this process holds of the account's window, if anything."""
    with _leased_lock:
        left = _leased.get((account_id, window), 0)
        if left <= 0:
            return False
        _leased[(account_id, window)] = left - 1
        return True


def _leased_keep(account_id, window: int, count: int) -> None:
    """Hold `count` more events of the account's window; what earlier windows left lapses."""
    with _leased_lock:
        for lapsed in [key for key in _leased if key[1] < window]:
            del _leased[lapsed]
        if count > 0:
            _leased[(account_id, window)] = _leased.get((account_id, window), 0) + count
