"""The outbox's bulk writes: events and their deliveries, in as few statements as the database allows.

Every producer goes through here (one event from the API, a batch, a burst emitted in-process). On
PostgreSQL the events, the lookup of subscribed profiles and the deliveries are one prepared statement
over a JSON document of the events; on SQLite, where statements cost no round trip, one `executemany` each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.db import connection

from callbacks import event_types
from callbacks.delivery import ordering, sql
from callbacks.delivery.ids import uuid7_fast, uuid7_hex_fast
from callbacks.models import CallbackProfile, Delivery, Event

PENDING = Delivery.State.PENDING.value
HELD = Delivery.State.HELD.value
ENABLED = CallbackProfile.Status.ENABLED.value
ABNORMAL = CallbackProfile.Status.ABNORMAL.value
PER_KEY = CallbackProfile.Ordering.PER_KEY.value
_DEFAULT_KEY_PATHS_JSON = orjson.dumps(
    {spec.code: spec.ordering_key for spec in event_types.REGISTRY if spec.ordering_key}
).decode()


@dataclass(slots=True)
class EventRow:
    """One event to store: its payload already encoded as compact JSON (checked once, written as is)."""

    type: str
    data: Any
    payload_json: str
    idempotency_key: str | None = None
    id: uuid.UUID = field(default_factory=uuid7_fast)
    # (delivery id, profile id, state) of each delivery written with it, filled in by `rows_insert`; the
    # ids as the database gives them (UUIDs on PostgreSQL, hex text on SQLite: see `sql.uuid_value`).
    deliveries: list[tuple[Any, Any, str]] = field(default_factory=list)


def rows_insert(*, account_id: Any, rows: list[EventRow], created_at: datetime, profile_id: Any | None = None) -> None:
    """Store `rows` and one delivery per enabled or abnormal profile subscribed to each type (abnormal:
    held), or to `profile_id` alone when given. Runs inside the caller's transaction."""
    if not rows:
        return
    if sql.is_postgresql():
        _insert_postgresql(account_id=account_id, rows=rows, created_at=created_at, profile_id=profile_id)
    else:
        _insert_each(account_id=account_id, rows=rows, created_at=created_at, profile_id=profile_id)


def _insert_postgresql(*, account_id: Any, rows: list[EventRow], created_at: datetime, profile_id: Any) -> None:
    events = Event._meta.db_table
    deliveries = Delivery._meta.db_table
    profiles = CallbackProfile._meta.db_table
    document = orjson.dumps(
        [[str(row.id), row.type, orjson.Fragment(row.payload_json), row.idempotency_key] for row in rows]
    ).decode()
    if profile_id is None:
        subscriptions = CallbackProfile.event_types.through._meta.db_table
        targets = (
            f" JOIN {subscriptions} s ON s.eventtype_id = i.type JOIN {profiles} p ON p.id = s.callbackprofile_id"
            f" WHERE p.account_id = %(account)s AND p.status IN ('{ENABLED}', '{ABNORMAL}') AND p.deleted_at IS NULL"
        )
    else:
        targets = (
            f" CROSS JOIN (SELECT id, '{ENABLED}' AS status, ordering, ordering_key_path FROM {profiles}"  # noqa: S608
            " WHERE id = %(profile)s::uuid) p"
        )
    statement = (
        "WITH incoming AS ("  # noqa: S608
        " SELECT (r->>0)::uuid AS id, r->>1 AS type, r->2 AS payload, r->>3 AS idempotency_key"
        " FROM jsonb_array_elements(%(events)s::jsonb) AS r),"
        f" stored AS (INSERT INTO {events} (id, account_id, type, payload, idempotency_key, created_at)"
        " SELECT id, %(account)s, type, payload, idempotency_key, %(created)s FROM incoming)"
        f" INSERT INTO {deliveries} (id, account_id, event_id, profile_id, event_type, state, attempt_count,"
        " next_attempt_at, leased_by, last_error_class, created_at, ordering_key)"
        # A version-7 id (time first, as `uuid7_fast` makes them) from this millisecond and random bits.
        " SELECT (lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7'"
        " || substr(replace(gen_random_uuid()::text, '-', ''), 14, 3)"
        " || substr(replace(gen_random_uuid()::text, '-', ''), 17, 16))::uuid, %(account)s, i.id, p.id, i.type,"
        f" CASE WHEN p.status = '{ENABLED}' THEN '{PENDING}' ELSE '{HELD}' END, 0, %(created)s, '', '', %(created)s,"
        # The key only for profiles ordered per key: the profile's path, else the type's default.
        f" CASE WHEN p.ordering = '{PER_KEY}' THEN left(i.payload #>> string_to_array(NULLIF(COALESCE("
        " NULLIF(p.ordering_key_path, ''), %(key_paths)s::jsonb ->> i.type), ''), '.'),"
        f" {ordering.KEY_MAX_CHARS}) END"
        f" FROM incoming i{targets}"
        " RETURNING id, event_id, profile_id, state"
    )
    parameters = {
        "events": document,
        "account": sql.uuid_param(account_id),
        "created": created_at,
        "profile": None if profile_id is None else sql.uuid_param(profile_id),
        "key_paths": _DEFAULT_KEY_PATHS_JSON,
    }
    by_id = {row.id: row for row in rows}
    for delivery_id, event_id, delivery_profile_id, state in sql.rows_fetched(statement, parameters):
        by_id[event_id].deliveries.append((delivery_id, delivery_profile_id, state))


def _insert_each(*, account_id: Any, rows: list[EventRow], created_at: datetime, profile_id: Any) -> None:
    if profile_id is None:
        targets = subscribed_profiles(account_id=account_id, types={row.type for row in rows})
    else:
        targets = None
    account = sql.uuid_param(account_id)
    created = sql.datetime_param(created_at)
    delivery_rows = []
    if targets is None:
        single_target = [(sql.uuid_param(profile_id), ENABLED, _key_path_of(profile_id))]
    for row in rows:
        event_id = sql.uuid_param(row.id)
        for target, status, key_path in single_target if targets is None else targets.get(row.type, ()):
            # An abnormal profile keeps its events, held until it answers again.
            delivery_id, state = uuid7_hex_fast(), PENDING if status == ENABLED else HELD
            row.deliveries.append((delivery_id, target, state))
            key = (
                None
                if key_path is None
                else ordering.key_value(row.data, ordering.key_path(profile_path=key_path, event_type=row.type))
            )
            delivery_rows.append((delivery_id, account, event_id, target, row.type, state, created, created, key))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {Event._meta.db_table} (id, account_id, type, payload, idempotency_key, created_at)"  # noqa: S608
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (sql.uuid_param(row.id), account, row.type, row.payload_json, row.idempotency_key, created)
                for row in rows
            ],
        )
        if delivery_rows:
            cursor.executemany(
                f"INSERT INTO {Delivery._meta.db_table} (id, account_id, event_id, profile_id, event_type, state,"  # noqa: S608
                " attempt_count, next_attempt_at, leased_by, last_error_class, created_at, ordering_key)"
                " VALUES (%s, %s, %s, %s, %s, %s, 0, %s, '', '', %s, %s)",
                delivery_rows,
            )


def _key_path_of(profile_id: Any) -> str | None:
    """A profile's own key path ("": the types' defaults) when it orders per key; None when it does not."""
    found = CallbackProfile.all_objects.filter(pk=profile_id).values_list("ordering", "ordering_key_path").first()
    return found[1] if found and found[0] == PER_KEY else None


def subscribed_profiles(*, account_id: Any, types: set[str]) -> dict[str, list[tuple[Any, str, str | None]]]:
    """type → (profile id, status, key path) of the account's enabled or abnormal profiles subscribed to
    it; the key path is None for a profile without per-key ordering, its own ("": the type's) otherwise."""
    profiles = CallbackProfile._meta.db_table
    subscriptions = CallbackProfile.event_types.through._meta.db_table
    ordered = sorted(types)
    found: dict[str, list[tuple[Any, str, str | None]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.eventtype_id, p.id, p.status, p.ordering, p.ordering_key_path FROM {profiles} p"  # noqa: S608
            f" JOIN {subscriptions} s ON s.callbackprofile_id = p.id"
            f" WHERE p.account_id = %s AND s.eventtype_id IN ({sql.placeholders(len(ordered))})"
            f" AND p.status IN ('{ENABLED}', '{ABNORMAL}') AND p.deleted_at IS NULL",
            [sql.uuid_param(account_id), *ordered],
        )
        for type, profile_id, status, order, path in cursor.fetchall():
            found.setdefault(type, []).append((profile_id, status, path if order == PER_KEY else None))
    return found
