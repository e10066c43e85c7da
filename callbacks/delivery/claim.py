"""Claiming due deliveries with a lease, and what a claimed batch needs: profiles and events.

Work is claimed, not assigned: one UPDATE … RETURNING moves `next_attempt_at` to the end of the
lease, so a claimed row is due again only if its worker dies. PostgreSQL skips rows other workers
have locked; SQLite serialises writers. The state is written as a literal so SQLite uses the partial
index `delivery_due`.
"""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from callbacks.delivery import sql
from callbacks.delivery.record.writes import ClaimedRow
from callbacks.delivery.render.request import EventData, ProfileSnapshot
from callbacks.models import CallbackProfile, Delivery, Event

PROFILE_CACHE_TTL_S = 2.0
MAX_PARKED_ROWS = 50_000  # per call: a bounded statement, however deep the backlog
EVENT_CACHE_SIZE = 1024
EVENT_CACHE_MAX_PAYLOAD_BYTES = 16 * 1024  # with the size: at most ~16 MB of cached payloads


def _due_statement(excluded: int = 0) -> str:
    table = Delivery._meta.db_table
    # The state is a literal, not a parameter, so SQLite can use the partial index `delivery_due`.
    skip = f" AND profile_id NOT IN ({sql.placeholders(excluded)})" if excluded else ""
    due = (
        f"SELECT id, profile_id, next_attempt_at FROM {table} WHERE state = 'pending' AND next_attempt_at <= %s{skip}"  # noqa: S608
        " ORDER BY next_attempt_at LIMIT %s"
    )
    if sql.is_postgresql():
        due += " FOR UPDATE SKIP LOCKED"
    return due


def _lease_statement(count: int) -> str:
    table = Delivery._meta.db_table
    return (
        f"UPDATE {table} SET next_attempt_at = %s, lease_expires_at = %s, leased_by = %s"  # noqa: S608
        f" WHERE id IN ({sql.placeholders(count)})"
        " RETURNING id, event_id, profile_id, account_id, event_type, attempt_count, created_at, batch_id"
    )


def deliveries_claim(
    *,
    worker_id: str,
    limit: int,
    now: datetime,
    lease_s: float,
    skip_profiles: tuple = (),
    room_for: Callable[[set[Any]], dict[Any, int]] | None = None,
) -> list[ClaimedRow]:
    """Lease up to `limit` due deliveries to `worker_id`, earliest due first; each is due again when
    the lease ends. `skip_profiles`: profiles this worker cannot send more to just now (slots full).
    `room_for(profile_ids)`: how many deliveries each profile can take now; the rest stay as they
    are, due in their place, so a busy profile's backlog still goes out oldest first."""
    lease_end = sql.datetime_param(now + timedelta(seconds=lease_s))
    skipped = [sql.uuid_param(profile_id) for profile_id in skip_profiles]
    with transaction.atomic(), connection.cursor() as cursor:
        # Two statements rather than UPDATE … WHERE id IN (SELECT …): RETURNING gives rows in no
        # particular order, and the due order is what keeps a backlog draining oldest first.
        cursor.execute(_due_statement(len(skipped)), [sql.datetime_param(now), *skipped, limit])
        due = cursor.fetchall()
        if room_for is not None and due:
            due = _within_room(due, room_for({sql.uuid_value(row[1]) for row in due}))
        if not due:
            return []
        cursor.execute(_lease_statement(len(due)), [lease_end, lease_end, worker_id, *(row[0] for row in due)])
        fetched = cursor.fetchall()
    due_rank = {str(row[0]): (rank, row[2]) for rank, row in enumerate(due)}
    fetched.sort(key=lambda row: due_rank[str(row[0])][0])
    return [ClaimedRow.from_values(row, due_at_param=due_rank[str(row[0])][1]) for row in fetched]


def _within_room(due: list[tuple], room: dict[Any, int]) -> list[tuple]:
    """The due rows, earliest first, each profile's cut to the room it has."""
    taken: dict[Any, int] = defaultdict(int)
    kept = []
    for row in due:
        profile_id = sql.uuid_value(row[1])
        if taken[profile_id] < room.get(profile_id, 0):
            taken[profile_id] += 1
            kept.append(row)
    return kept


def backlog_park(*, profile_id: Any, keep: int, until: datetime, now: datetime) -> None:
    """Move a slow profile's due deliveries beyond its first `keep` out of the claim's way, due again
    at `until`. A claim that skips the profile would otherwise walk its whole backlog every time."""
    table = Delivery._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if sql.is_postgresql() else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_attempt_at = %s WHERE id IN (SELECT id FROM {table}"  # noqa: S608
            " WHERE profile_id = %s AND state = 'pending' AND next_attempt_at <= %s AND leased_by = ''"
            f" ORDER BY next_attempt_at LIMIT %s OFFSET %s{lock})",
            [sql.datetime_param(until), sql.uuid_param(profile_id), sql.datetime_param(now), MAX_PARKED_ROWS, keep],
        )


def due_work_exists(*, now: datetime) -> bool:
    """A read-only look at the due index (no write lock, unlike a claim)."""
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE state = 'pending' AND next_attempt_at <= %s LIMIT 1",  # noqa: S608
            [sql.datetime_param(now)],
        )
        return cursor.fetchone() is not None


def next_due_at() -> datetime | None:
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(next_attempt_at) FROM {table} WHERE state = 'pending'")  # noqa: S608
        row = cursor.fetchone()
    return sql.datetime_value(row[0]) if row else None


# --- what a batch needs: profiles and events, briefly cached -------------------------------------------
class ProfileCache:
    """Profile snapshots (secrets decrypted once), reloaded after PROFILE_CACHE_TTL_S."""

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[float, ProfileSnapshot]] = {}

    def get_many(self, ids: set[Any]) -> dict[Any, ProfileSnapshot]:
        now = time.monotonic()
        found = {}
        missing = []
        for profile_id in ids:
            entry = self._entries.get(profile_id)
            if entry is not None and now - entry[0] < PROFILE_CACHE_TTL_S:
                found[profile_id] = entry[1]
            else:
                missing.append(profile_id)
        if missing:
            for profile in CallbackProfile.objects.select_related("account").filter(pk__in=missing):
                snapshot = ProfileSnapshot.from_profile(profile)
                self._entries[profile.pk] = (now, snapshot)
                found[profile.pk] = snapshot
        return found


class EventCache:
    """Recently used events (a fan-out claims the same event for many profiles)."""

    def __init__(self, size: int = EVENT_CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[Any, EventData] = OrderedDict()

    def get_many(self, ids: set[Any]) -> dict[Any, EventData]:
        found = {}
        missing = []
        for event_id in ids:
            event = self._entries.get(event_id)
            if event is None:
                missing.append(event_id)
            else:
                found[event_id] = event
        if missing:
            table = Event._meta.db_table
            with connection.cursor() as cursor:
                size = "pg_column_size(payload)" if sql.is_postgresql() else "length(payload)"
                cursor.execute(
                    f"SELECT id, type, payload, created_at, {size} FROM {table}"  # noqa: S608
                    f" WHERE id IN ({sql.placeholders(len(missing))})",
                    [sql.uuid_param(event_id) for event_id in missing],
                )
                for row in cursor.fetchall():
                    payload = sql.json_value(row[2])
                    event = EventData(
                        id=sql.uuid_value(row[0]),
                        type=row[1],
                        created_at=sql.datetime_value(row[3]),
                        payload=payload if isinstance(payload, dict) else {},
                    )
                    found[event.id] = event
                    if row[4] <= EVENT_CACHE_MAX_PAYLOAD_BYTES:  # big payloads are read each time
                        self._entries[event.id] = event
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return found
