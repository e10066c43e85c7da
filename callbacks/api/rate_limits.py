"""The account's events-per-second quota on the API: over it, 429 with `Retry-After`.

Counted per account in one-second windows of the shared cache (Redis at scale), so every web process
counts together; a request that reaches the view has at most the account's quota ahead of it. A cache
that does not answer lets requests through (logged): the quota protects the engine, not the data.
"""

from __future__ import annotations

import logging
import math
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

_cache_failed_at = -CACHE_OUTAGE_PAUSE_S


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
        key = KEY_FORMAT.format(account_id=account.pk, window=window)
        cache = caches["default"]
        try:
            count = 1 if cache.add(key, 1, timeout=WINDOW_S + 1) else cache.incr(key)
        except Exception as error:  # the cache is down: let it through rather than refuse every producer
            _cache_failed_at = time.monotonic()
            logger.warning("api.quota_cache_failed", extra={"error": repr(error)})
            return True
        if count <= limit:
            return True
        wait_s = math.ceil((window + 1) * WINDOW_S - now)
        logger.info("api.events_throttled", extra={"account_id": str(account.pk), "limit": limit})
        raise exceptions.Throttled(
            wait=max(1, wait_s),
            detail=f"This account may send at most {limit:,} events per second (its quota); retry after the "
            "time in Retry-After, or ask an operator to raise the quota.",
        )
