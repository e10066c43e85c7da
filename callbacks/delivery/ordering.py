"""Per-key ordering: which key a delivery follows, and the claim's rule that keeps each key in order.

A profile with per-key ordering stores on each delivery the value at a path of the event data (its
key). The claim takes a keyed delivery only when no earlier delivery (created first; within one
instant, the earlier event) of the same profile and key is unfinished: pending (due, waiting for a
retry, or leased to a worker, even one that died) or held. The rule lives in the claim's SQL, so it
holds across workers and clusters.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from callbacks import event_types
from callbacks.models import Delivery

KEY_MAX_CHARS = 200  # longer values are cut: two keys that share their first 200 characters wait for each other
PATH_MAX_CHARS = 200
PATH_PATTERN = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
UNFINISHED_STATES_SQL = "('pending', 'held')"  # as the partial index `delivery_key_unfinished` spells it


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
