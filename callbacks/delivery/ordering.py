"""Per-key ordering: which key a delivery follows, and the claim's rule that keeps each key in order.

A profile with per-key ordering stores on each delivery the value at a path of the event data (its
key). The claim takes a keyed delivery only when no earlier delivery (created first; within one
instant, the earlier event) of the same profile and key is unfinished: pending (due, waiting for a
retry, or leased to a worker, even one that died) or held. The rule lives in the claim's SQL, so it
holds across workers and clusters.

So that a claim does not step over the same waiting rows round after round, a claim that takes the
first of a key with a deep backlog moves its due waiting deliveries to the end of its lease (`waiting_park`), and
settling a delivery makes the next of its key due at once (`next_release`). Both only move times: the
order is the claim's rule alone, and a release that is missed costs at most one lease of waiting.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
from django.db import connection

from callbacks import event_types
from callbacks.delivery import sql
from callbacks.models import Delivery

KEY_MAX_CHARS = 200  # longer values are cut: two keys that share their first 200 characters wait for each other
PATH_MAX_CHARS = 200
PATH_PATTERN = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
UNFINISHED_STATES_SQL = "('pending', 'held')"
PARK_MIN_WAITING = 50  # a key with this many due deliveries waiting has them moved out of the claims' way  # as the partial index `delivery_key_unfinished` spells it


def key_path(*, profile_path: str, event_type: str) -> str:
    """The path a profile's keys follow for one event type: its own, else the type's default ("": none)."""
    return profile_path or event_types.ordering_key_of(event_type)


def key_value(data: Any, path: str) -> str | None:
    """The key at `path` ("a.b") in the event data, as text; None when absent or null (sent unordered)."""
    if not path:
        return None
    value = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[:KEY_MAX_CHARS]


def path_problem(path: str) -> str | None:
    """Why `path` cannot name a key in the event data, or None when it can."""
    if len(path) > PATH_MAX_CHARS:
        return f"At most {PATH_MAX_CHARS} characters."
    if path and not PATH_PATTERN.match(path):
        return "A path of field names separated by dots, e.g. message_id or order.id (letters, digits, _ and -)."
    return None


def earlier_unfinished_sql(alias: str) -> str:
    """An EXISTS test: is an earlier delivery of `alias`'s profile and key unfinished? Served by the
    partial index `delivery_key_unfinished` (the state test is written as the index's condition)."""
    table = Delivery._meta.db_table
    return (
        f"EXISTS (SELECT 1 FROM {table} e WHERE e.profile_id = {alias}.profile_id"  # noqa: S608
        f" AND e.ordering_key = {alias}.ordering_key AND e.state IN {UNFINISHED_STATES_SQL}"
        # A row comparison, so the index range stops at this row: the head of a long key probes one entry.
        f" AND (e.created_at, e.event_id) < ({alias}.created_at, {alias}.event_id))"
    )


def claimable_sql(alias: str) -> str:
    """The claim's condition: not keyed, or first of its key among the unfinished."""
    return f"({alias}.ordering_key IS NULL OR NOT {earlier_unfinished_sql(alias)})"


def _unfinished_of_key(profile: str = "%s", key: str = "%s") -> str:
    """The unfinished deliveries of one profile and key, by the partial index."""
    return (
        f"SELECT e.id FROM {Delivery._meta.db_table} e WHERE e.profile_id = {profile} AND e.ordering_key = {key}"  # noqa: S608
        f" AND e.state IN {UNFINISHED_STATES_SQL}"
    )


def _pairs(pairs: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
    return list(dict.fromkeys(pairs))


# PostgreSQL: one statement for all the keys (arrays), not one a key.
_KEYS_SET = "unnest(%s::uuid[], %s::text[]) AS k(profile_id, ordering_key)"


def waiting_park(*, heads: list[tuple[Any, str]], until_param: Any, now_param: Any) -> None:
    """Move the due, unleased pending deliveries of these (profile id, key) pairs, whose first was just
    claimed, to `until` (its lease's end), out of the way of the claims until then: only for keys with at
    least PARK_MIN_WAITING of them, as stepping over a few costs less than writing them twice more."""
    table = Delivery._meta.db_table
    pairs = _pairs(heads)
    waiting = " AND e.state = 'pending' AND e.leased_by = '' AND e.next_attempt_at <= %s"
    with connection.cursor() as cursor:
        if sql.is_postgresql():
            cursor.execute(
                f"UPDATE {table} SET next_attempt_at = %s FROM {_KEYS_SET} WHERE {table}.id IN"  # noqa: S608
                f" ({_unfinished_of_key('k.profile_id', 'k.ordering_key')}{waiting}) AND EXISTS"
                f" (SELECT 1 FROM ({_unfinished_of_key('k.profile_id', 'k.ordering_key')}{waiting}"
                " LIMIT 1 OFFSET %s) AS deep)",
                [until_param, [p for p, _ in pairs], [k for _, k in pairs], now_param, now_param, PARK_MIN_WAITING - 1],
            )
            return
        cursor.executemany(
            f"UPDATE {table} SET next_attempt_at = %s WHERE id IN ({_unfinished_of_key()}{waiting})"  # noqa: S608
            f" AND EXISTS (SELECT 1 FROM ({_unfinished_of_key()}{waiting} LIMIT 1 OFFSET %s) AS deep)",
            [(until_param, p, k, now_param, p, k, now_param, PARK_MIN_WAITING - 1) for p, k in pairs],
        )


def next_release(*, keys: list[tuple[Any, str]], now: datetime) -> None:
    """Make the first unfinished delivery of each (profile id, key) due now, if it waits unleased."""
    table = Delivery._meta.db_table
    now_param = sql.datetime_param(now)
    pairs = _pairs(keys)
    first = " ORDER BY e.created_at, e.event_id LIMIT 1)"
    waiting = f" AND {table}.state = 'pending' AND {table}.leased_by = '' AND {table}.next_attempt_at > %s"
    with connection.cursor() as cursor:
        if sql.is_postgresql():
            cursor.execute(
                f"UPDATE {table} SET next_attempt_at = %s FROM {_KEYS_SET} WHERE {table}.id ="  # noqa: S608
                f" ({_unfinished_of_key('k.profile_id', 'k.ordering_key')}{first}{waiting}",
                [now_param, [p for p, _ in pairs], [k for _, k in pairs], now_param],
            )
            return
        cursor.executemany(
            f"UPDATE {table} SET next_attempt_at = %s WHERE id = ({_unfinished_of_key()}{first}{waiting}",  # noqa: S608
            [(now_param, p, k, now_param) for p, k in pairs],
        )
