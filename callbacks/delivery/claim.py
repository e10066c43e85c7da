"""Claiming due deliveries with a lease, and what a claimed batch needs: profiles and events.

Work is claimed, not assigned: one UPDATE … RETURNING moves `next_attempt_at` to the end of the
lease, so a claimed row is due again only if its worker dies. PostgreSQL skips rows other workers
have locked; SQLite serialises writers. Each round is shared between the accounts with due work, so
one account's backlog costs another at most one round. A delivery of a profile with per-key ordering
waits while an earlier one of its key is unfinished (`ordering`). The state is written as a literal so
SQLite uses the partial indexes.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from callbacks import metrics
from callbacks.delivery import ordering, sql
from callbacks.delivery.record.writes import (
    ATTEMPT_COLUMNS,
    LEASE_EXPIRED_ERROR_CLASS,
    UNKNOWN_OUTCOME,
    ClaimedRow,
    unknown_attempt_row,
)
from callbacks.delivery.render.request import EventData, ProfileSnapshot
from callbacks.models import Attempt, CallbackProfile, Delivery, Event

logger = logging.getLogger(__name__)

PROFILE_CACHE_TTL_S = 2.0
MAX_PARKED_ROWS = 50_000  # per call: a bounded statement, however deep the backlog
EVENT_CACHE_SIZE = 1024
EVENT_CACHE_MAX_PAYLOAD_BYTES = 16 * 1024  # with the size: at most ~16 MB of cached payloads


def _skip_clause(excluded: int) -> str:
    return f" AND profile_id NOT IN ({sql.placeholders(excluded)})" if excluded else ""


def _due_of_account(account: str) -> str:
    """Due rows of the account named by `account`, as a range of `delivery_due_by_account` in its order.

    On PostgreSQL written as row comparisons: with `account_id = …` the planner may prefer walking the
    due index of every account (or the account's whole history) and filtering, which it misjudges
    when one account holds most of the due rows; a range of (account, due time) only this index serves."""
    if sql.is_postgresql():
        return (
            f"(account_id, next_attempt_at) >= ({account}, '-infinity')"
            f" AND (account_id, next_attempt_at) <= ({account}, %s)"
        )
    return f"account_id = {account} AND next_attempt_at <= %s"


def _accounts_statement(excluded: int) -> str:
    """The accounts with due work that waited longest (as many as the round has rows), each with its
    due rows counted up to the round's size.

    A skip scan of the partial index `delivery_due_by_account`: one probe per account with pending
    rows, never a walk over one account's backlog, and counts only for the accounts taken. Deliveries waiting for
    an earlier one of their key count too: testing each here as well doubled the claim's cost for a
    per-key backlog, and a share an account cannot fill only leaves that round short."""
    table = Delivery._meta.db_table
    skip = _skip_clause(excluded)
    in_order = "ORDER BY account_id, next_attempt_at"
    return (
        "WITH RECURSIVE pending_accounts(account_id) AS ("  # noqa: S608
        f" SELECT (SELECT account_id FROM {table} WHERE state = 'pending' {in_order} LIMIT 1)"
        " UNION ALL"
        f" SELECT (SELECT account_id FROM {table} WHERE state = 'pending' AND account_id > p.account_id"
        f" {in_order} LIMIT 1)"
        " FROM pending_accounts p WHERE p.account_id IS NOT NULL)"
        " SELECT waiting.account_id, waiting.oldest_due,"
        f" (SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE state = 'pending'"
        f" AND {_due_of_account('waiting.account_id')}{skip} {in_order} LIMIT %s) AS capped) AS due"
        " FROM (SELECT account_id, oldest_due FROM (SELECT p.account_id AS account_id,"
        f" (SELECT next_attempt_at FROM {table} WHERE state = 'pending' AND {_due_of_account('p.account_id')}"
        f" {in_order} LIMIT 1) AS oldest_due"
        " FROM pending_accounts p WHERE p.account_id IS NOT NULL) AS accounts"
        " WHERE oldest_due IS NOT NULL ORDER BY oldest_due LIMIT %s) AS waiting"
    )


def _fetch_statement(accounts: int, excluded: int) -> str:
    """Each account's share of the round, earliest due first within the account."""
    table = Delivery._meta.db_table
    skip = _skip_clause(excluded)
    claimable = ordering.claimable_sql("c")
    if sql.is_postgresql():
        return (
            "SELECT d.id, d.profile_id, d.next_attempt_at, d.account_id, d.leased_by"  # noqa: S608
            " FROM unnest(%s::uuid[], %s::int[]) AS share(account_id, take)"
            f" CROSS JOIN LATERAL (SELECT id, profile_id, next_attempt_at, account_id, leased_by FROM {table} c"
            f" WHERE state = 'pending' AND {_due_of_account('share.account_id')}{skip} AND {claimable}"
            " ORDER BY account_id, next_attempt_at LIMIT share.take FOR UPDATE OF c SKIP LOCKED) AS d"
        )
    one = (
        f"SELECT * FROM (SELECT id, profile_id, next_attempt_at, account_id, leased_by FROM {table} c"  # noqa: S608
        f" WHERE state = 'pending' AND {_due_of_account('%s')}{skip} AND {claimable}"
        " ORDER BY account_id, next_attempt_at LIMIT %s)"
    )
    return " UNION ALL ".join([one] * accounts)


def fair_shares(due_by_account: dict[Any, int], limit: int) -> dict[Any, int]:
    """Split `limit` between accounts: each gets what it has due up to an even share of what is left,
    the smallest first, so one account's backlog takes only what the others leave."""
    shares = {}
    remaining = limit
    ordered = sorted(due_by_account.items(), key=lambda item: item[1])
    for index, (account_id, due) in enumerate(ordered):
        if remaining <= 0:
            break
        left = len(ordered) - index
        share = min(due, -(-remaining // left))
        shares[account_id] = share
        remaining -= share
    return shares


def _fair_due(cursor: Any, *, now_param: Any, skipped: list, limit: int) -> list[tuple]:
    """Due rows for one claim round, shared between the accounts with due work, in round-robin order
    (each account's first, then each account's second, ...)."""
    cursor.execute(_accounts_statement(len(skipped)), [now_param, *skipped, limit, now_param, limit])
    due_by_account = {row[0]: row[2] for row in cursor.fetchall() if row[2]}
    if not due_by_account:
        return []
    shares = fair_shares(due_by_account, limit)
    if sql.is_postgresql():
        params = [list(shares), list(shares.values()), now_param, *skipped]
    else:
        params = [value for account_id, take in shares.items() for value in (account_id, now_param, *skipped, take)]
    cursor.execute(_fetch_statement(len(shares), len(skipped)), params)
    turn: dict[Any, int] = defaultdict(int)
    ranked = []
    for row in sorted(cursor.fetchall(), key=lambda row: row[2]):
        ranked.append((turn[row[3]], row[2], row))
        turn[row[3]] += 1
    return [row for _, _, row in sorted(ranked, key=lambda item: item[:2])]


def _lease_statement(count: int) -> str:
    table = Delivery._meta.db_table
    return (
        f"UPDATE {table} SET next_attempt_at = %s, lease_expires_at = %s, leased_by = %s,"  # noqa: S608
        # A lease that ran out: its worker died with the request perhaps sent, an attempt of unknown outcome.
        " attempt_count = attempt_count + CASE WHEN leased_by <> '' THEN 1 ELSE 0 END"
        f" WHERE id IN ({sql.placeholders(count)})"
        " RETURNING id, event_id, profile_id, account_id, event_type, attempt_count, created_at, batch_id, ordering_key"
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
    """Lease up to `limit` due deliveries to `worker_id`, shared fairly between the accounts with due
    work and earliest due first within each; each is due again when the lease ends. `skip_profiles`:
    profiles this worker cannot send more to just now (slots full).
    `room_for(profile_ids)`: how many deliveries each profile can take now; the rest stay as they
    are, due in their place, so a busy profile's backlog still goes out oldest first."""
    lease_end = sql.datetime_param(now + timedelta(seconds=lease_s))
    skipped = [sql.uuid_param(profile_id) for profile_id in skip_profiles]
    with transaction.atomic(), connection.cursor() as cursor:
        # Select, then lease: RETURNING gives rows in no particular order, and the round-robin order
        # (oldest first within each account) is what keeps a backlog draining oldest first.
        due = _fair_due(cursor, now_param=sql.datetime_param(now), skipped=skipped, limit=limit)
        if room_for is not None and due:
            due = _within_room(due, room_for({sql.uuid_value(row[1]) for row in due}))
        if not due:
            return []
        cursor.execute(_lease_statement(len(due)), [lease_end, lease_end, worker_id, *(row[0] for row in due)])
        fetched = cursor.fetchall()
        expired = {str(row[0]) for row in due if row[4]}  # leased before: its lease ran out
        if expired:
            _unknown_attempts_record([row for row in fetched if str(row[0]) in expired], now=now)
    due_rank = {str(row[0]): (rank, row[2]) for rank, row in enumerate(due)}
    fetched.sort(key=lambda row: due_rank[str(row[0])][0])
    return [ClaimedRow.from_values(row, due_at_param=due_rank[str(row[0])][1]) for row in fetched]


def _unknown_attempts_record(rows: list[tuple], *, now: datetime) -> None:
    """Rows re-claimed after their lease ran out (as the lease statement returned them, the attempt
    count already counting it): the send of the worker that died gets an attempt of unknown outcome,
    so the log counts every request the receiver may have seen."""
    profiles = {
        str(pk): (method, url)
        for pk, method, url in CallbackProfile.objects.filter(
            pk__in={sql.uuid_value(row[2]) for row in rows}
        ).values_list("pk", "http_method", "url")
    }
    table, names = Attempt._meta.db_table, ", ".join(name for name, _ in ATTEMPT_COLUMNS)
    started_at = sql.datetime_param(now)
    attempts = []
    for row in rows:
        method, url = profiles.get(str(sql.uuid_value(row[2])), ("", ""))
        attempts.append(
            unknown_attempt_row(
                delivery_id_param=row[0],
                number=row[5],
                started_at_param=started_at,
                method=method,
                url=url,
                error_class=LEASE_EXPIRED_ERROR_CLASS,
                reason="the worker that sent it stopped before recording the answer",
            )
        )
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({sql.placeholders(len(ATTEMPT_COLUMNS))})",  # noqa: S608
            attempts,
        )
    unknown_durations = metrics.attempt_duration.labels(outcome=UNKNOWN_OUTCOME)
    for _ in rows:  # one observation per attempt logged, so the histogram's count is the log's
        unknown_durations.observe(0)
    logger.info("dispatch.lease_expired", extra={"deliveries": len(rows)})


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
