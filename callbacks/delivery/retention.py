"""Retention: attempts and event payloads older than CALLBACKS_RETENTION_DAYS go, in bounded batches.

Deliveries (the log's rows) and the hourly rollups stay, so statistics and reports keep their history;
a callback deleted longer ago than that goes with its deliveries and rollups.
An event still waiting to be delivered keeps its payload whatever its age.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from callbacks import clock
from callbacks.models import Attempt, CallbackProfile, Delivery, DeliveryStats, Event

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 30
PURGE_BATCH_ROWS = 1000
PURGE_MAX_BATCHES = 200  # per run: at most 200,000 rows of each kind, the next run goes on


def retention_cutoff(now: datetime | None = None) -> datetime:
    days = int(getattr(settings, "CALLBACKS_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    return (now or clock.now()) - timedelta(days=days)


def attempts_purge(
    *, before: datetime, batch_rows: int = PURGE_BATCH_ROWS, max_batches: int = PURGE_MAX_BATCHES
) -> int:
    deleted = 0
    for _ in range(max_batches):
        with transaction.atomic():
            ids = list(Attempt.objects.filter(started_at__lt=before).values_list("pk", flat=True)[:batch_rows])
            if not ids:
                break
            deleted += Attempt.objects.filter(pk__in=ids).delete()[0]
    return deleted


def payloads_purge(
    *, before: datetime, batch_rows: int = PURGE_BATCH_ROWS, max_batches: int = PURGE_MAX_BATCHES
) -> int:
    purged = 0
    waiting = Delivery.objects.filter(state__in=(Delivery.State.PENDING, Delivery.State.HELD)).values("event_id")
    for _ in range(max_batches):
        with transaction.atomic():
            ids = list(
                Event.objects.filter(created_at__lt=before, payload_purged_at__isnull=True)
                .exclude(pk__in=waiting)
                .values_list("pk", flat=True)[:batch_rows]
            )
            if not ids:
                break
            purged += Event.objects.filter(pk__in=ids).update(payload={}, payload_purged_at=clock.now())
    return purged


def deleted_profiles_purge(
    *, before: datetime, batch_rows: int = PURGE_BATCH_ROWS, max_batches: int = PURGE_MAX_BATCHES
) -> int:
    """Remove callbacks deleted before `before` with their history, a bounded batch of rows at a time."""
    removed = 0
    gone = list(CallbackProfile.all_objects.filter(deleted_at__lt=before).values_list("pk", flat=True)[:batch_rows])
    for profile_id in gone:
        for model in (Attempt, Delivery, DeliveryStats):
            field = "delivery__profile_id" if model is Attempt else "profile_id"
            for _ in range(max_batches):
                with transaction.atomic():
                    ids = list(model.objects.filter(**{field: profile_id}).values_list("pk", flat=True)[:batch_rows])
                    if not ids:
                        break
                    model.objects.filter(pk__in=ids).delete()
            else:
                return removed  # a long history: the next run goes on
        removed += CallbackProfile.all_objects.filter(pk=profile_id).delete()[0]
    return removed


def retention_purge(*, now: datetime | None = None) -> int:
    """Purge what is past retention; returns the number of rows changed (attempts deleted + payloads cleared
    + deleted callbacks removed)."""
    before = retention_cutoff(now)
    attempts = attempts_purge(before=before)
    payloads = payloads_purge(before=before)
    profiles = deleted_profiles_purge(before=before)
    if attempts or payloads or profiles:
        logger.info(
            "retention.purged",
            extra={"attempts": attempts, "payloads": payloads, "profiles": profiles, "before": before.isoformat()},
        )
    return attempts + payloads + profiles
