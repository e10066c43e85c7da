"""Ingesting events: check them, store each event and its deliveries (the outbox) in one transaction.

One path for every producer: a single event from the API, a batch of up to 1,000, a burst emitted
in-process. Each is checked on its own (field-named errors), then the accepted ones are written in
bulk (callbacks/services/event_writes.py) in one transaction, and the dispatcher is woken once after
the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models.base import ModelState

from callbacks import clock, event_types, metrics, signals
from callbacks.delivery.wake import wake_request
from callbacks.models import Account, CallbackProfile, Event
from callbacks.services.event_groups import rows_store_grouped
from callbacks.services.event_writes import EventRow, rows_insert

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_IDEMPOTENCY_KEY_CHARS = 200
IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_BATCH_EVENTS = 1000
# A concurrent producer storing the same idempotency key first makes our insert fail: look again.
IDEMPOTENCY_RACE_TRIES = 3


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
        encoded = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as error:
        raise ValidationError({"data": f"The data is not JSON-serialisable ({error})."}) from error
    if len(encoded) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(
            {"data": f"The data is {len(encoded)} bytes as JSON; the limit is {MAX_PAYLOAD_BYTES} bytes."}
        )
    return encoded.decode()


def idempotency_key_check(value: Any) -> str | None:
    """The key as stored (trimmed; blank is none), or a field-named ValidationError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError({"idempotency_key": "The idempotency key must be a string."})
    key = str(value).strip()
    if len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise ValidationError({"idempotency_key": f"At most {MAX_IDEMPOTENCY_KEY_CHARS} characters."})
    return key or None


def event_item_check(item: Any) -> EventRow:
    """One event as a producer posts it (`{"type", "data", "idempotency_key"?}`), checked; every failing
    field is named in one ValidationError (PayloadTooLarge when the size is the only fault)."""
    if not isinstance(item, dict):
        raise ValidationError({"non_field_errors": "Each event must be a JSON object with type and data."})
    errors: dict[str, str] = {}
    type, data = item.get("type"), item.get("data")
    if type is None:
        errors["type"] = "This field is required."
    if "data" not in item:
        errors["data"] = "This field is required."
    key = None
    try:
        key = idempotency_key_check(item.get("idempotency_key"))
    except ValidationError as error:
        errors.update({name: messages[0] for name, messages in error.message_dict.items()})
    payload_json = ""
    if not errors or set(errors) == {"idempotency_key"}:
        try:
            payload_json = event_payload_check(type=type, data=data)
        except PayloadTooLarge:
            if not errors:
                raise
            errors["data"] = f"The data is over {MAX_PAYLOAD_BYTES} bytes as JSON."
        except ValidationError as error:
            errors.update({name: messages[0] for name, messages in error.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    return EventRow(type=type, data=data, payload_json=payload_json, idempotency_key=key)


class IdempotencyConflict(ValidationError):
    """The idempotency key names an earlier event with another type or data: nothing is stored."""

    def __init__(self, event: Event) -> None:
        self.event = event
        super().__init__(
            {
                "idempotency_key": f"This key was already used by event {event.pk} with another type or data; "
                "use a new key for a new event."
            }
        )


def _conflict_of(row: EventRow, event: Event) -> IdempotencyConflict | None:
    """A replayed event whose key was reused for another event (a stored row never conflicts)."""
    if getattr(event, "replayed", False) and (event.type != row.type or event.payload != row.data):
        return IdempotencyConflict(event)
    return None


def _stored_or_conflict(rows: list[EventRow], events: list[Event]) -> list[Event]:
    for row, event in zip(rows, events, strict=True):
        conflict = _conflict_of(row, event)
        if conflict is not None:
            raise conflict
    return events


@dataclass(slots=True)
class ItemResult:
    """What became of one item of a batch: the stored (or earlier, replayed) event, or its errors."""

    event: Event | None = None
    errors: dict[str, list[str]] | None = None


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
    The dispatcher is woken and `signals.event_received` sent once the transaction commits. The new
    event carries `stored_deliveries`: (delivery id, profile id, state) of what was written with it.
    """
    row = EventRow(
        type=type,
        data=data,
        payload_json=event_payload_check(type=type, data=data),
        idempotency_key=idempotency_key_check(idempotency_key),
    )
    if profile is not None:
        return _stored_or_conflict([row], _rows_store(account=account, rows=[row], profile=profile))[0]
    return _stored_or_conflict([row], _rows_store_grouped(account=account, rows=[row]))[0]


def event_post(*, account: Account, item: Any) -> Event:
    """One event as a producer posts it (`{"type", "data", "idempotency_key"?}`): checked, then stored as
    `event_emit` stores it."""
    row = event_item_check(item)
    return _stored_or_conflict([row], _rows_store_grouped(account=account, rows=[row]))[0]


def events_emit(*, account: Account, items: Sequence[tuple[str, dict] | tuple[str, dict, str | None]]) -> list[Event]:
    """Store many events (`(type, data)` or `(type, data, idempotency_key)`) and their deliveries in one
    transaction: one commit for a burst, written in bulk as a batch posted to the API is.

    Each event is checked as in `event_emit`; one invalid item stores nothing (the error names its index).
    """
    rows = []
    for index, item in enumerate(items):
        code, data, key = (*item, None)[:3]
        try:
            rows.append(
                EventRow(
                    type=code,
                    data=data,
                    payload_json=event_payload_check(type=code, data=data),
                    idempotency_key=idempotency_key_check(key),
                )
            )
        except ValidationError as error:
            named = {f"{index}.{name}": messages for name, messages in error.message_dict.items()}
            raise error.__class__(named) from error
    keys_unique_check([row.idempotency_key for row in rows])
    return _stored_or_conflict(rows, _rows_store_grouped(account=account, rows=rows))


def events_ingest(*, account: Account, items: Any) -> list[ItemResult]:
    """A batch as posted: per item, in order, the stored (or replayed) event or the item's field errors.

    Refused whole (ValidationError on `events`, nothing stored) when it is not a list, holds more than
    MAX_BATCH_EVENTS items, or repeats an idempotency key; otherwise one bad item never loses the others.
    """
    if not isinstance(items, list):
        raise ValidationError({"events": 'Send the events as a list: {"events": [...]}.'})
    if not items:
        raise ValidationError({"events": "The batch is empty."})
    if len(items) > MAX_BATCH_EVENTS:
        raise ValidationError({"events": f"At most {MAX_BATCH_EVENTS:,} events in one batch ({len(items):,} given)."})
    results: list[ItemResult] = []
    rows: list[EventRow] = []
    positions: list[int] = []
    for index, item in enumerate(items):
        try:
            row = event_item_check(item)
        except ValidationError as error:
            results.append(ItemResult(errors=error.message_dict))
            continue
        results.append(ItemResult())
        rows.append(row)
        positions.append(index)
    keys_unique_check([row.idempotency_key for row in rows], positions=positions)
    stored = _rows_store_grouped(account=account, rows=rows)
    for position, row, event in zip(positions, rows, stored, strict=True):
        conflict = _conflict_of(row, event)
        if conflict is None:
            results[position].event = event
        else:
            results[position].errors = conflict.message_dict
    return results


def keys_unique_check(keys: list[str | None], *, positions: list[int] | None = None) -> None:
    """Refuse a batch that names one idempotency key twice: which of the two is meant cannot be told."""
    seen: dict[str, int] = {}
    repeated: list[str] = []
    for index, key in enumerate(keys):
        if key is None:
            continue
        position = index if positions is None else positions[index]
        if key in seen:
            repeated.append(f"“{key}” at items {seen[key]} and {position}")
        else:
            seen[key] = position
    if repeated:
        raise ValidationError(
            {"events": f"Each idempotency key may appear once in a batch: {'; '.join(repeated[:10])}."}
        )


def _rows_store_grouped(*, account: Account, rows: list[EventRow]) -> list[Event]:
    """Store `rows` in one transaction shared with other threads storing events now (group commit)."""
    if not rows:
        return []
    events = rows_store_grouped(
        account=account,
        rows=rows,
        store_once=lambda account, rows: _rows_store_once(account=account, rows=rows, profile=None, announce=False),
        store=lambda account, rows: _rows_store(account=account, rows=rows, announce=False),
    )
    # Announced by each caller once its group committed (at once, or when the caller's own transaction
    # commits), not by the writer: nothing of it holds up the writers queued behind the group.
    new_events = [event for event in events if not event.replayed]
    if new_events:
        transaction.on_commit(lambda: _announce(new_events))
    return events


def _rows_store(
    *, account: Account, rows: list[EventRow], profile: CallbackProfile | None = None, announce: bool = True
) -> list[Event]:
    """Store `rows` in one transaction, retried when a concurrent producer took one of their keys first."""
    if not rows:
        return []
    keyed = any(row.idempotency_key for row in rows)
    for attempt in range(1, IDEMPOTENCY_RACE_TRIES + 1):
        try:
            with transaction.atomic():
                return _rows_store_once(account=account, rows=rows, profile=profile, announce=announce)
        except IntegrityError:
            if not keyed or attempt == IDEMPOTENCY_RACE_TRIES:
                raise
    raise AssertionError("unreachable")


def _rows_store_once(
    *, account: Account, rows: list[EventRow], profile: CallbackProfile | None, announce: bool = True
) -> list[Event]:
    """Store `rows` (in the caller's transaction); with `announce`, wake the dispatcher and send
    `event_received` once it commits."""
    for row in rows:
        row.deliveries.clear()  # left by an earlier try that rolled back
    now = clock.now()
    earlier = _idempotent_matches(account=account, keys=[row.idempotency_key for row in rows if row.idempotency_key])
    new_rows = [row for row in rows if row.idempotency_key not in earlier]
    rows_insert(
        account_id=account.pk,
        rows=new_rows,
        created_at=now,
        profile_id=None if profile is None else profile.pk,
    )
    database = connection.alias
    new_events = [_event_of(account=account, row=row, created_at=now, database=database) for row in new_rows]
    if new_events:
        if announce:
            transaction.on_commit(lambda: _announce(new_events))
        logger.debug("events.received", extra={"account_id": str(account.pk), "events": len(new_events)})
    fresh = iter(new_events)
    return [earlier[row.idempotency_key] if row.idempotency_key in earlier else next(fresh) for row in rows]


def _event_of(*, account: Account, row: EventRow, created_at, database: str) -> Event:
    """The stored event as a model instance, built as `Model.from_db` would (a batch builds a thousand)."""
    event = Event.__new__(Event)
    event.__dict__.update(
        id=row.id,
        account_id=account.pk,
        type=row.type,
        payload=row.data,
        idempotency_key=row.idempotency_key,
        payload_purged_at=None,
        created_at=created_at,
        replayed=False,
        stored_deliveries=row.deliveries,
    )
    state = ModelState()
    state.adding = False
    state.db = database
    state.fields_cache = {"account": account}
    event._state = state
    return event


def _idempotent_matches(*, account: Account, keys: list[str]) -> dict[str, Event]:
    """key → the event stored under it within the window; older events give their keys up."""
    if not keys:
        return {}
    found = {event.idempotency_key: event for event in Event.objects.filter(account=account, idempotency_key__in=keys)}
    window_start = clock.now() - IDEMPOTENCY_WINDOW
    expired = [event.pk for event in found.values() if event.created_at < window_start]
    if expired:
        Event.objects.filter(pk__in=expired).update(idempotency_key=None)
    matches = {}
    for key, event in found.items():
        if event.created_at >= window_start:
            event.replayed = True
            event.stored_deliveries = None
            matches[key] = event
    return matches


def _announce(events: list[Event]) -> None:
    metrics.events_accepted.inc(len(events))
    wake_request()
    for event in events:
        signals.event_received.send(sender=Event, event=event)
