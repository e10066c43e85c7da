"""What people do to deliveries: retry one now, cancel, release held ones (replays: `replays`)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from callbacks import clock, metrics
from callbacks.delivery.wake import wake_request_on_commit
from callbacks.models import CallbackProfile, Delivery

logger = logging.getLogger(__name__)


def _wake_on_commit() -> None:
    wake_request_on_commit()


def not_in_flight(now: datetime) -> Q:
    return Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)


def delivery_retry(*, delivery: Delivery) -> Delivery:
    """Send one delivery again now, whatever its state, unless it is being sent at this moment.

    It keeps its id (the `webhook-id`), so a receiver that already has it can tell.
    """
    if delivery.profile.status != CallbackProfile.Status.ENABLED:
        raise ValidationError(
            {"profile": "The profile is not enabled; enable it (or test it, if abnormal) before retrying."}
        )
    now = clock.now()
    with transaction.atomic():
        changed = (
            Delivery.objects.filter(pk=delivery.pk)
            .filter(not_in_flight(now))
            .update(
                state=Delivery.State.PENDING,
                next_attempt_at=now,
                completed_at=None,
                lease_expires_at=None,
                leased_by="",
            )
        )
        if not changed:
            raise ValidationError({"state": "This delivery is being sent right now; try again in a moment."})
        _wake_on_commit()
    delivery.refresh_from_db()
    logger.info("delivery.retry_requested", extra={"delivery_id": str(delivery.pk)})
    return delivery


def delivery_cancel(*, delivery: Delivery) -> Delivery:
    """Stop a pending or held delivery for good (a person decided); a finished one stays as it is."""
    now = clock.now()
    changed = (
        Delivery.objects.filter(pk=delivery.pk, state__in=(Delivery.State.PENDING, Delivery.State.HELD))
        .filter(not_in_flight(now))
        .update(state=Delivery.State.CANCELLED, completed_at=now, lease_expires_at=None, leased_by="")
    )
    if not changed:
        raise ValidationError({"state": "Only a pending or held delivery that is not being sent can be cancelled."})
    metrics.deliveries_finished.labels(outcome=Delivery.State.CANCELLED).inc()
    delivery.refresh_from_db()
    return delivery


def deliveries_release(*, profile: CallbackProfile) -> int:
    """Make a profile's held deliveries due now (after it is enabled again); returns how many."""
    now = clock.now()
    with transaction.atomic():
        count = Delivery.objects.filter(profile=profile, state=Delivery.State.HELD).update(
            state=Delivery.State.PENDING, next_attempt_at=now, lease_expires_at=None, leased_by=""
        )
        if count:
            _wake_on_commit()
    return count
