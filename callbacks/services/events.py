"""Ingesting events: validate, store the event and its deliveries (the outbox) in one transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from callbacks import clock, event_types, metrics, signals
from callbacks.delivery import sql
from callbacks.delivery.ids import uuid4_fast
from callbacks.delivery.wake import wake_request
from callbacks.models import Account, CallbackProfile, Delivery, Event

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_IDEMPOTENCY_KEY_CHARS = 200
IDEMPOTENCY_WINDOW = timedelta(hours=24)


class PayloadTooLarge(ValidationError):
    """The event's data is over MAX_PAYLOAD_BYTES once encoded as JSON (the API answers 413)."""


def event_payload_check(*, type: str, data: Any) -> str:
    """The data as compact JSON; raises a field-named ValidationError (PayloadTooLarge for size) unless the
    event is acceptable."""
    if not isinstance(type, str) or not event_types.is_known(type):
        raise ValidationError({"type": f"Unknown event type “{type}”; GET /api/v1/event-types/ lists them."})
    if not isinstance(data, dict):
        raise ValidationError({"data": "The data must be a JSON object."})
    try:
        encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValidationError({"data": f"The data is not JSON-serialisable ({error})."}) from error
    size = len(encoded.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge({"data": f"The data is {size} bytes as JSON; the limit is {MAX_PAYLOAD_BYTES} bytes."})
    return encoded


class IdempotencyConflict(ValidationError):
    """The idempotency key names an earlier event with another type or data."""

    def __init__(self, event: Event) -> None:
        self.event = event
        super().__init__(
            {
                "idempotency_key": f"This key was already used by event {event.pk} with another type or data; "
                "use a new key for a new event."
            }
        )


def _idempotent_replay(existing: Event, *, type: str, data: dict) -> Event:
    """The first event again, if this is the same event; a conflict if the key is reused for another."""
    if existing.type != type or existing.payload != data:
        raise IdempotencyConflict(existing)
    existing.replayed = True
    return existing


def _idempotent_match(*, account: Account, idempotency_key: str) -> Event | None:
    """The event stored under this key within the window; an older one gives its key up."""
    existing = Event.objects.filter(account=account, idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    if existing.created_at >= clock.now() - IDEMPOTENCY_WINDOW:
        return existing
    Event.objects.filter(pk=existing.pk).update(idempotency_key=None)
    return None


def _subscribed_profiles(*, account: Account, type: str) -> list[tuple[Any, str]]:
    """(profile id, status) of the account's enabled or abnormal profiles subscribed to `type` (not deleted)."""
    profiles = CallbackProfile._meta.db_table
    subscriptions = CallbackProfile.event_types.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id, p.status FROM {profiles} p JOIN {subscriptions} s ON s.callbackprofile_id = p.id"  # noqa: S608
            " WHERE p.account_id = %s AND s.eventtype_id = %s AND p.status IN ('enabled', 'abnormal')"
            " AND p.deleted_at IS NULL",
            [sql.uuid_param(account.pk), type],
        )
        return [(sql.uuid_value(profile_id), status) for profile_id, status in cursor.fetchall()]


def _rows_insert(*, event: Event, payload_json: str, profiles: list[tuple[Any, str]]) -> None:
    """The event and its deliveries, one statement each (this is every producer's hot path)."""
    created = sql.datetime_param(event.created_at)
    account_id = sql.uuid_param(event.account_id)
    deliveries = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} (id, account_id, type, payload, idempotency_key, created_at)"  # noqa: S608
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                sql.uuid_param(event.pk),
                account_id,
                event.type,
                payload_json,
                event.idempotency_key,
                created,
            ],
        )
        if profiles:
            cursor.executemany(
                f"INSERT INTO {deliveries} (id, account_id, event_id, profile_id, event_type, state, attempt_count,"  # noqa: S608
                " next_attempt_at, leased_by, last_error_class, created_at) VALUES"
                " (%s, %s, %s, %s, %s, %s, 0, %s, '', '', %s)",
                [
                    (
                        sql.uuid_param(uuid4_fast()),
                        account_id,
                        sql.uuid_param(event.pk),
                        sql.uuid_param(profile_id),
                        event.type,
                        # An abnormal profile keeps its events, held until it answers again.
                        Delivery.State.PENDING if status == CallbackProfile.Status.ENABLED else Delivery.State.HELD,
                        created,
                        created,
                    )
                    for profile_id, status in profiles
                ],
            )


def _on_commit(event: Event) -> None:
    metrics.events_accepted.inc()
    wake_request()
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
    and stores nothing; with another type or data it raises IdempotencyConflict. `profile` sends to that one profile whatever it subscribes to (trigger, test).
    The dispatcher is woken and `signals.event_received` sent once the transaction commits.
    """
    payload_json = event_payload_check(type=type, data=data)
    if idempotency_key is not None:
        idempotency_key = str(idempotency_key).strip() or None
        if idempotency_key and len(idempotency_key) > MAX_IDEMPOTENCY_KEY_CHARS:
            raise ValidationError({"idempotency_key": f"At most {MAX_IDEMPOTENCY_KEY_CHARS} characters."})
    try:
        with transaction.atomic():
            if idempotency_key:
                existing = _idempotent_match(account=account, idempotency_key=idempotency_key)
                if existing is not None:
                    return _idempotent_replay(existing, type=type, data=data)
            event = Event(
                id=uuid4_fast(),
                account=account,
                type=type,
                payload=data,
                idempotency_key=idempotency_key,
                created_at=clock.now(),
            )
            if profile is not None:
                profiles = [(profile.pk, CallbackProfile.Status.ENABLED)]
            else:
                profiles = _subscribed_profiles(account=account, type=type)
            _rows_insert(event=event, payload_json=payload_json, profiles=profiles)
            event._state.adding = False
            event._state.db = connection.alias
            transaction.on_commit(lambda: _on_commit(event))
    except IntegrityError:
        # A concurrent request stored the same idempotency key first: answer with its event.
        existing = Event.objects.filter(account=account, idempotency_key=idempotency_key).first()
        if idempotency_key is None or existing is None:
            raise
        return _idempotent_replay(existing, type=type, data=data)
    event.replayed = False
    logger.debug("event.received", extra={"event_id": str(event.pk), "type": type, "deliveries": len(profiles)})
    return event


def events_emit(*, account: Account, items: Sequence[tuple[str, dict]]) -> list[Event]:
    """Store many events (`(type, data)` pairs) and their deliveries in one transaction.

    For producers with a burst to hand over (imports, load tests): one commit instead of one per
    event. No idempotency keys here; each event is validated as in `event_emit`, and one invalid
    item stores nothing.
    """
    encoded = [(type, data, event_payload_check(type=type, data=data)) for type, data in items]
    events: list[Event] = []
    subscribed: dict[str, list[tuple[Any, str]]] = {}
    with transaction.atomic():
        for type, data, payload_json in encoded:
            if type not in subscribed:
                subscribed[type] = _subscribed_profiles(account=account, type=type)
            event = Event(id=uuid4_fast(), account=account, type=type, payload=data, created_at=clock.now())
            _rows_insert(event=event, payload_json=payload_json, profiles=subscribed[type])
            event._state.adding = False
            event._state.db = connection.alias
            event.replayed = False
            events.append(event)
        transaction.on_commit(lambda: _many_on_commit(events))
    return events


def _many_on_commit(events: list[Event]) -> None:
    metrics.events_accepted.inc(len(events))
    wake_request()
    for event in events:
        signals.event_received.send(sender=Event, event=event)
