"""Ingesting events: validate, store the event and its deliveries (the outbox) in one transaction."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from callbacks import clock, event_types, signals
from callbacks.models import Account, CallbackProfile, Delivery, Event

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_IDEMPOTENCY_KEY_CHARS = 200
IDEMPOTENCY_WINDOW = timedelta(hours=24)


class PayloadTooLarge(ValidationError):
    """The event's data is over MAX_PAYLOAD_BYTES once encoded as JSON (the API answers 413)."""


def event_payload_check(*, type: str, data: Any) -> None:
    """Raise a field-named ValidationError (PayloadTooLarge for size) unless the event is acceptable."""
    if not isinstance(type, str) or not event_types.is_known(type):
        raise ValidationError({"type": f"Unknown event type “{type}”; GET /api/v1/event-types/ lists them."})
    if not isinstance(data, dict):
        raise ValidationError({"data": "The data must be a JSON object."})
    try:
        size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError) as error:
        raise ValidationError({"data": f"The data is not JSON-serialisable ({error})."}) from error
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge({"data": f"The data is {size} bytes as JSON; the limit is {MAX_PAYLOAD_BYTES} bytes."})


def _idempotent_match(*, account: Account, idempotency_key: str) -> Event | None:
    """The event stored under this key within the window; an older one gives its key up."""
    existing = Event.objects.filter(account=account, idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    if existing.created_at >= clock.now() - IDEMPOTENCY_WINDOW:
        return existing
    Event.objects.filter(pk=existing.pk).update(idempotency_key=None)
    return None


def _deliveries_create(*, event: Event, profiles: list[tuple[Any, str]]) -> None:
    now = event.created_at
    Delivery.objects.bulk_create(
        [
            Delivery(
                account_id=event.account_id,
                event=event,
                profile_id=profile_id,
                event_type=event.type,
                # An abnormal profile keeps its events, held until it answers again.
                state=Delivery.State.PENDING if status == CallbackProfile.Status.ENABLED else Delivery.State.HELD,
                next_attempt_at=now,
                created_at=now,
            )
            for profile_id, status in profiles
        ]
    )


def _on_commit(event: Event) -> None:
    from callbacks.tasks import dispatcher_wake

    dispatcher_wake()
    signals.event_received.send(sender=Event, event=event)


def event_emit(
    *,
    account: Account,
    type: str,
    data: dict,
    idempotency_key: str | None = None,
    profile: CallbackProfile | None = None,
) -> Event:
    """Store an event and one Delivery per subscribed profile (enabled: pending, abnormal: held).

    The same `idempotency_key` within 24 hours returns the first event (with `event.replayed = True`)
    and stores nothing. `profile` sends to that one profile whatever it subscribes to (trigger, test).
    The dispatcher is woken and `signals.event_received` sent once the transaction commits.
    """
    event_payload_check(type=type, data=data)
    if idempotency_key is not None:
        idempotency_key = str(idempotency_key).strip() or None
        if idempotency_key and len(idempotency_key) > MAX_IDEMPOTENCY_KEY_CHARS:
            raise ValidationError({"idempotency_key": f"At most {MAX_IDEMPOTENCY_KEY_CHARS} characters."})
    try:
        with transaction.atomic():
            if idempotency_key:
                existing = _idempotent_match(account=account, idempotency_key=idempotency_key)
                if existing is not None:
                    existing.replayed = True
                    return existing
            event = Event.objects.create(
                account=account, type=type, payload=data, idempotency_key=idempotency_key, created_at=clock.now()
            )
            if profile is not None:
                profiles = [(profile.pk, CallbackProfile.Status.ENABLED)]
            else:
                profiles = list(
                    CallbackProfile.objects.filter(
                        account=account,
                        event_types=type,
                        status__in=(CallbackProfile.Status.ENABLED, CallbackProfile.Status.ABNORMAL),
                    ).values_list("pk", "status")
                )
            _deliveries_create(event=event, profiles=profiles)
            transaction.on_commit(lambda: _on_commit(event))
    except IntegrityError:
        # A concurrent request stored the same idempotency key first: answer with its event.
        existing = Event.objects.filter(account=account, idempotency_key=idempotency_key).first()
        if idempotency_key is None or existing is None:
            raise
        existing.replayed = True
        return existing
    event.replayed = False
    logger.info("event.received", extra={"event_id": str(event.pk), "type": type, "deliveries": len(profiles)})
    return event
