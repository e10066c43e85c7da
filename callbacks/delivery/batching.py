"""Batches: formed once, then kept as a unit (DESIGN section 4).

A profile's batch closes when `batch_max_size` items wait, or `batch_max_wait_ms` after its first
waiting item. Forming it writes its id on every member (`Delivery.batch_id`, the batch's
`webhook-id`); from then on the members go out together on every retry, Retry now and replay, the
same items in the same order (oldest first), so a receiver can deduplicate on `webhook-id`.

Both steps run in the claim's transaction: `batches_settle` takes the claimed rows and answers the
rows to send (with the members that were not due themselves) and leaves the others waiting.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from callbacks.delivery import sql
from callbacks.delivery.ids import uuid4_fast
from callbacks.delivery.record.writes import ClaimedRow
from callbacks.delivery.render.request import ProfileSnapshot
from callbacks.models import CallbackProfile, Delivery

BUSY_BATCH_RETRY = timedelta(seconds=1)
ROW_COLUMNS = "id, event_id, profile_id, account_id, event_type, attempt_count, created_at, batch_id, ordering_key, next_attempt_at"


def _row(values: tuple) -> ClaimedRow:
    return ClaimedRow.from_values(values, due_at_param=values[9])


def batch_order(rows: Iterable[ClaimedRow]) -> list[ClaimedRow]:
    """The order of a batch's items: oldest first, then by id (the same on every retry)."""
    return sorted(rows, key=lambda row: (row.created_at, row.id.hex))


# Rows no live claim of another worker holds (a lease moves next_attempt_at to its end); takes the
# worker's id and now.
FREE = "(leased_by = '' OR leased_by = %s OR next_attempt_at <= %s)"


def _lock() -> str:
    return " FOR UPDATE SKIP LOCKED" if sql.is_postgresql() else ""


def _lease(cursor: Any, rows: list[ClaimedRow], *, worker_id: str, lease_end: Any, batch_id: uuid.UUID) -> None:
    table = Delivery._meta.db_table
    cursor.execute(
        f"UPDATE {table} SET batch_id = %s, next_attempt_at = %s, lease_expires_at = %s, leased_by = %s"  # noqa: S608
        f" WHERE id IN ({sql.placeholders(len(rows))})",
        [sql.uuid_param(batch_id), lease_end, lease_end, worker_id, *(row.id_param for row in rows)],
    )


def _wait(cursor: Any, rows: list[ClaimedRow], until: datetime) -> None:
    table = Delivery._meta.db_table
    cursor.execute(
        f"UPDATE {table} SET next_attempt_at = %s, lease_expires_at = NULL, leased_by = ''"  # noqa: S608
        f" WHERE id IN ({sql.placeholders(len(rows))})",
        [sql.datetime_param(until), *(row.id_param for row in rows)],
    )


def _release(cursor: Any, rows: list[ClaimedRow]) -> None:
    table = Delivery._meta.db_table
    for row in rows:  # due again where they were
        cursor.execute(
            f"UPDATE {table} SET next_attempt_at = %s, lease_expires_at = NULL, leased_by = '' WHERE id = %s",  # noqa: S608
            [row.due_at_param, row.id_param],
        )


def _batches_complete(
    cursor: Any, claimed: list[ClaimedRow], *, worker_id: str, now: datetime, lease_end: Any
) -> list[ClaimedRow]:
    """Claimed rows of formed batches, with every other pending member of their batches. A batch a
    member of which another worker holds is put back whole: it is never sent in part."""
    table = Delivery._meta.db_table
    batch_ids = list({row.batch_id for row in claimed})
    now_param = sql.datetime_param(now)
    cursor.execute(
        f"SELECT {ROW_COLUMNS}, leased_by FROM {table} WHERE state = 'pending'"  # noqa: S608
        f" AND batch_id IN ({sql.placeholders(len(batch_ids))})",
        [sql.uuid_param(batch_id) for batch_id in batch_ids],
    )
    members: dict[uuid.UUID, list[tuple]] = defaultdict(list)
    for values in cursor.fetchall():
        members[sql.uuid_value(values[7])].append(values)
    mine = {row.id: row for row in claimed}
    busy = {
        batch_id
        for batch_id, rows in members.items()
        for values in rows
        if values[10] not in ("", worker_id)
        and sql.datetime_value(values[9]) > now
        and sql.uuid_value(values[0]) not in mine
    }
    if sql.is_postgresql():
        others = [values[0] for batch_id, rows in members.items() if batch_id not in busy for values in rows]
        locked: set[uuid.UUID] = set()
        if others:
            cursor.execute(
                f"SELECT id FROM {table} WHERE id IN ({sql.placeholders(len(others))})"  # noqa: S608
                f" AND state = 'pending' AND {FREE}{_lock()}",
                [*others, worker_id, now_param],
            )
            locked = {sql.uuid_value(values[0]) for values in cursor.fetchall()}
        busy |= {
            batch_id
            for batch_id, rows in members.items()
            if any(sql.uuid_value(values[0]) not in locked for values in rows)
        }
    ready: list[ClaimedRow] = []
    for batch_id, rows in members.items():
        if batch_id in busy:
            continue
        batch = [mine.get(sql.uuid_value(values[0])) or _row(values) for values in rows]
        _lease(cursor, batch, worker_id=worker_id, lease_end=lease_end, batch_id=batch_id)
        ready.extend(batch)
    # Put back whole, a little later: the worker holding part of it records its outcome meanwhile.
    held_elsewhere = [row for row in claimed if row.batch_id in busy]
    if held_elsewhere:
        _wait(cursor, held_elsewhere, now + BUSY_BATCH_RETRY)
    return ready


def _batches_form(
    cursor: Any,
    snapshot: ProfileSnapshot,
    claimed: list[ClaimedRow],
    *,
    worker_id: str,
    now: datetime,
    lease_end: Any,
) -> list[ClaimedRow]:
    """New batches of one profile from its waiting deliveries (not yet in a batch), oldest first."""
    table = Delivery._meta.db_table
    size = snapshot.batch_max_size
    most = math.ceil(len(claimed) / size) * size
    cursor.execute(
        f"SELECT {ROW_COLUMNS} FROM {table} WHERE profile_id = %s AND state = 'pending' AND batch_id IS NULL"  # noqa: S608
        f" AND (attempt_count = 0 OR next_attempt_at <= %s OR leased_by = %s) AND {FREE}"
        f" ORDER BY created_at, id LIMIT %s{_lock()}",
        [sql.uuid_param(snapshot.id), sql.datetime_param(now), worker_id, worker_id, sql.datetime_param(now), most],
    )
    mine = {row.id: row for row in claimed}
    waiting = batch_order(mine.get(sql.uuid_value(values[0])) or _row(values) for values in cursor.fetchall())
    chunks = [waiting[start : start + size] for start in range(0, len(waiting), size)]
    wait = timedelta(milliseconds=snapshot.batch_max_wait_ms)
    ready: list[ClaimedRow] = []
    placed: set[uuid.UUID] = set()
    for chunk in chunks:
        placed.update(row.id for row in chunk)
        closes_at = chunk[0].created_at + wait
        if len(chunk) < size and closes_at > now:
            _wait(cursor, chunk, closes_at)  # still open: every item waits until its first item's time
            continue
        batch_id = uuid4_fast()
        _lease(cursor, chunk, worker_id=worker_id, lease_end=lease_end, batch_id=batch_id)
        ready.extend(replace(row, batch_id=batch_id) for row in chunk)
    _release(cursor, [row for row in claimed if row.id not in placed])
    return ready


def _batching(snapshot: ProfileSnapshot | None) -> bool:
    return snapshot is not None and snapshot.batch_max_size > 1 and snapshot.status == CallbackProfile.Status.ENABLED


def batches_settle(
    rows: list[ClaimedRow],
    snapshots: dict[Any, ProfileSnapshot],
    *,
    worker_id: str,
    now: datetime,
    lease_end: Any,
) -> list[ClaimedRow]:
    """The claimed rows as they go out: members of formed batches complete, new batches formed for
    batching profiles; deliveries of a batch still open wait for it to close (not in the answer)."""
    batched: list[ClaimedRow] = []
    by_profile: dict[Any, list[ClaimedRow]] = defaultdict(list)
    settled: list[ClaimedRow] = []
    for row in rows:
        if row.batch_id:
            batched.append(row)
        elif _batching(snapshots.get(row.profile_id)):
            by_profile[row.profile_id].append(row)
        else:
            settled.append(row)
    if not batched and not by_profile:
        return rows
    with connection.cursor() as cursor:
        if batched:
            settled.extend(_batches_complete(cursor, batched, worker_id=worker_id, now=now, lease_end=lease_end))
        for profile_id, claimed in by_profile.items():
            settled.extend(
                _batches_form(cursor, snapshots[profile_id], claimed, worker_id=worker_id, now=now, lease_end=lease_end)
            )
    return settled
