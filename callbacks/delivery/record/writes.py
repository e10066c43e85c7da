"""Recording outcomes in bulk: attempts inserted, deliveries updated, rollups upserted and profile
health written for a whole batch in one transaction, then signals sent once it has committed.

Per-row ORM saves in this path halve throughput, so everything here is one statement per kind of
row (executemany), built from plain tuples.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from callbacks import clock, metrics, signals
from callbacks.delivery import sql
from callbacks.delivery.ids import uuid4_fast
from callbacks.delivery.record import health, outcomes
from callbacks.delivery.record.stats import StatsBuffer
from callbacks.delivery.render.request import Item, ProfileSnapshot, RenderedRequest
from callbacks.delivery.send.transport import TransportResult
from callbacks.models import Attempt, Delivery
from callbacks.redaction import url_redact

logger = logging.getLogger(__name__)

DEFAULT_ATTEMPT_REQUEST_BODY_CHARS = 8 * 1024
DEFAULT_ATTEMPT_RESPONSE_BODY_CHARS = 4 * 1024

# What a batch writes, as (column, PostgreSQL type), in the order of the rows the Recorder buffers.
ATTEMPT_COLUMNS = (
    ("id", "uuid"),
    ("delivery_id", "uuid"),
    ("number", "int"),
    ("started_at", "timestamptz"),
    ("duration_ms", "int"),
    ("request_method", "text"),
    ("request_url", "text"),
    ("request_headers", "jsonb"),
    ("request_body", "text"),
    ("response_status", "int"),
    ("response_headers", "jsonb"),
    ("response_body", "text"),
    ("error_class", "text"),
    ("error_detail", "text"),
    ("outcome", "text"),
    ("receiver_delivery_id", "text"),
)
OUTCOME_COLUMNS = (
    ("state", "text"),
    ("attempt_count", "int"),
    ("next_attempt_at", "timestamptz"),
    ("last_status_code", "int"),
    ("last_error_class", "text"),
    ("completed_at", "timestamptz"),
    ("id", "uuid"),
    ("leased_by", "text"),
)
UNKNOWN_OUTCOME = "unknown"
STOPPED_ERROR_CLASS = "worker_stopped"
LEASE_EXPIRED_ERROR_CLASS = "lease_expired"
# Places in ATTEMPT_COLUMNS, for the metrics.
ATTEMPT_DURATION_INDEX = [name for name, _ in ATTEMPT_COLUMNS].index("duration_ms")
ATTEMPT_OUTCOME_INDEX = [name for name, _ in ATTEMPT_COLUMNS].index("outcome")
FINISHED_STATES = frozenset((Delivery.State.DELIVERED, Delivery.State.FAILED))
RELEASE_COLUMNS = (("next_attempt_at", "timestamptz"), ("id", "uuid"), ("leased_by", "text"))
HOLD_COLUMNS = (("id", "uuid"), ("leased_by", "text"))
CANCEL_COLUMNS = (("completed_at", "timestamptz"), ("id", "uuid"), ("leased_by", "text"))


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """A leased delivery as the claim returned it."""

    id: uuid.UUID
    id_param: Any  # the id as the database takes it
    event_id: uuid.UUID
    profile_id: uuid.UUID
    account_id: uuid.UUID
    event_type: str
    attempt_count: int
    created_at: datetime
    due_at_param: Any = None  # when it was due before the claim, as the database gave it
    batch_id: uuid.UUID | None = None  # the batch it goes out in, once one is formed
    ordering_key: str | None = None  # per-key ordering: its key (None: sent without waiting)

    @classmethod
    def from_values(cls, values: tuple, *, due_at_param: Any) -> ClaimedRow:
        """From (id, event_id, profile_id, account_id, event_type, attempt_count, created_at, batch_id,
        ordering_key)."""
        return cls(
            id=sql.uuid_value(values[0]),
            id_param=values[0],
            event_id=sql.uuid_value(values[1]),
            profile_id=sql.uuid_value(values[2]),
            account_id=sql.uuid_value(values[3]),
            event_type=values[4],
            attempt_count=values[5],
            created_at=sql.datetime_value(values[6]),
            due_at_param=due_at_param,
            batch_id=sql.uuid_value(values[7]) if values[7] else None,
            ordering_key=values[8],
        )


@dataclass(slots=True)
class Job:
    """One HTTP request to make: a profile and the deliveries it carries (one, or a batch)."""

    snapshot: ProfileSnapshot
    rows: list[ClaimedRow]
    items: list[Item]
    sent_at: float = 0.0  # time.monotonic() when handed to a sender
    started_at: float = 0.0  # time.time() of the same moment, for the attempt's record
    batch_id: uuid.UUID | None = None


def unknown_attempt_row(
    *,
    delivery_id_param: Any,
    number: int,
    started_at_param: Any,
    method: str,
    url: str,
    error_class: str,
    reason: str,
) -> tuple:
    """An attempt row (ATTEMPT_COLUMNS) for a request whose answer nobody read."""
    return (
        sql.uuid_param(uuid4_fast()),
        delivery_id_param,
        number,
        started_at_param,
        0,
        method,
        url,
        sql.json_param({}),
        "",
        None,
        sql.json_param({}),
        "",
        error_class,
        reason,
        UNKNOWN_OUTCOME,
        "",
    )


def _text(data: bytes, limit: int) -> str:
    # No NUL: neither database's text columns take one, and one in an answer must not lose the batch.
    return data[: limit * 4].decode("utf-8", errors="replace").replace("\x00", "\ufffd")[:limit]


class Recorder:
    """Buffers what a dispatcher learns and writes it with `flush` (one transaction per flush)."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.request_body_chars = getattr(settings, "CALLBACKS_ATTEMPT_BODY_CHARS", DEFAULT_ATTEMPT_REQUEST_BODY_CHARS)
        self.response_body_chars = DEFAULT_ATTEMPT_RESPONSE_BODY_CHARS
        self._reset()
        self.processed = 0
        self.announcements: list[tuple[list, list]] = []

    def _reset(self) -> None:
        self.attempts: list[tuple] = []
        self.updates: list[tuple] = []
        self.deferrals: list[tuple] = []
        self.holds: list[tuple] = []
        self.cancels: list[tuple] = []
        self.stats = StatsBuffer()
        self.tallies: dict[Any, health.HealthTally] = {}
        self.gone: dict[Any, str] = {}
        self.failures: list[tuple[Any, Any, str]] = []  # delivery id, attempt id, failure class
        # A delivery of a per-key profile settled: the next of its key can go once this is written.
        self.frees_keys = False

    @property
    def size(self) -> int:
        return len(self.attempts) + len(self.deferrals) + len(self.holds) + len(self.cancels)

    # --- what happened ----------------------------------------------------------------------------
    def record(self, job: Job, request: RenderedRequest | None, result: TransportResult) -> None:
        """One request's result, for each delivery it carried."""
        snapshot = job.snapshot
        now = clock.now()
        outcome = outcomes.outcome_classify(result, envelope_contract=snapshot.envelope_contract, now=now)
        now_param = completed_param = sql.datetime_param(now)
        started_at = clock.from_timestamp(result.started_at) if result.started_at else now
        # The log keeps no secret of a URL either (`?token=…`): the same rule as for headers.
        method, url = (
            (request.method, request.url_redacted()) if request else (snapshot.method, url_redact(snapshot.url))
        )
        request_headers = sql.json_param(request.headers_redacted() if request else {})
        request_body = _text(request.body, self.request_body_chars) if request else ""
        response_headers = sql.json_param(result.headers)
        response_body = _text(result.body, self.response_body_chars)
        tally = self.tallies.get(snapshot.id)
        if tally is None:
            tally = self.tallies[snapshot.id] = health.HealthTally()
        worker = self.worker_id
        delay = None
        if outcome.kind == outcomes.RETRY:
            # One delay for the whole request: a batch stays a unit, all its items due again together.
            delay = outcomes.retry_delay_s(
                schedule=snapshot.retry_schedule_s,
                attempts_made=max(row.attempt_count for row in job.rows) + 1,
                retry_after_s=outcome.retry_after_s,
            )
        next_retry_at = outcomes.next_attempt_at(now=now, delay_s=delay) if delay is not None else None
        for row in job.rows:
            number = row.attempt_count + 1
            state, completed_at, next_at = Delivery.State.PENDING, None, now
            if outcome.kind == outcomes.DELIVERED:
                state, completed_at, attempt_outcome = Delivery.State.DELIVERED, now, "delivered"
            elif outcome.kind == outcomes.PERMANENT:
                state, completed_at, attempt_outcome = Delivery.State.FAILED, now, "failed"
            elif outcome.kind == outcomes.GONE:
                state, attempt_outcome = Delivery.State.HELD, "gone"
                self.gone[snapshot.id] = f"the endpoint answered {result.status} Gone"
            else:
                if next_retry_at is None:
                    state, completed_at, attempt_outcome = Delivery.State.FAILED, now, "failed"
                else:
                    next_at, attempt_outcome = next_retry_at, "retry"
            attempt_id = uuid4_fast()
            self.attempts.append(
                (
                    sql.uuid_param(attempt_id),
                    row.id_param,
                    number,
                    sql.datetime_param(started_at),
                    result.duration_ms,
                    method,
                    url,
                    request_headers,
                    request_body,
                    result.status,
                    response_headers,
                    response_body,
                    outcome.error_class,
                    result.error_detail,
                    attempt_outcome,
                    outcome.receiver_delivery_id,
                )
            )
            self.updates.append(
                (
                    state,
                    number,
                    now_param if next_at is now else sql.datetime_param(next_at),
                    result.status,
                    outcome.error_class,
                    completed_param if completed_at else None,
                    row.id_param,
                    worker,
                )
            )
            failed_for_good = state == Delivery.State.FAILED
            if completed_at is not None and row.ordering_key is not None:
                self.frees_keys = True
            self.stats.add(
                account_id=row.account_id,
                profile_id=row.profile_id,
                event_type=row.event_type,
                at=now,
                delivered=state == Delivery.State.DELIVERED,
                failed=failed_for_good,
                error_class=outcome.error_class,
            )
            if outcome.succeeded:
                tally.success(now)
            else:
                tally.failure(
                    now, exhausted=failed_for_good, cause=(result.status, outcome.error_class, result.error_detail)
                )
                self.failures.append((row.id, attempt_id, outcome.error_class))
        self.processed += len(job.rows)

    def unknown(self, job: Job, *, reason: str) -> None:
        """A request sent whose answer this worker will never read (it is stopping): an attempt of
        unknown outcome, so the log counts every send, and the delivery due again at once. Not a
        failure of the endpoint: no health or failure notice follows."""
        now = clock.now()
        now_param = sql.datetime_param(now)
        for row in job.rows:
            number = row.attempt_count + 1
            self.attempts.append(
                unknown_attempt_row(
                    delivery_id_param=row.id_param,
                    number=number,
                    started_at_param=sql.datetime_param(
                        clock.from_timestamp(job.started_at) if job.started_at else now
                    ),
                    method=job.snapshot.method,
                    url=job.snapshot.url,
                    error_class=STOPPED_ERROR_CLASS,
                    reason=reason,
                )
            )
            self.updates.append(
                (
                    Delivery.State.PENDING,
                    number,
                    now_param,
                    None,
                    STOPPED_ERROR_CLASS,
                    None,
                    row.id_param,
                    self.worker_id,
                )
            )
        self.processed += len(job.rows)

    def release(self, rows: list[ClaimedRow]) -> None:
        """Put claimed rows back untried, due when they were before the claim (their place kept)."""
        self.deferrals.extend((row.due_at_param, row.id_param, self.worker_id) for row in rows)

    def hold(self, rows: list[ClaimedRow]) -> None:
        """Put claimed rows of a profile that is no longer enabled on hold, untried."""
        self.holds.extend((row.id_param, self.worker_id) for row in rows)

    def cancel(self, rows: list[ClaimedRow]) -> None:
        """End claimed rows of a deleted profile as cancelled, untried. `profile_delete` cancels what
        waits, but on PostgreSQL an event whose statement began before the delete committed can still
        write a delivery for it; without this, such a row would be leased again after every lease."""
        completed_at = sql.datetime_param(clock.now())
        self.cancels.extend((completed_at, row.id_param, self.worker_id) for row in rows)

    # --- writing it -----------------------------------------------------------------------------
    def releases_write(self) -> None:
        """Write only the rows put back untried, inside the caller's transaction: a claim that follows
        then sees them due in their place (claimed before later-due rows), not leased to us still."""
        if not self.deferrals:
            return
        deferrals, self.deferrals = self.deferrals, []
        _rows_write(attempts=[], outcomes=[], releases=deferrals, holds=[], cancels=[])

    def flush(self, *, announce: bool = True) -> None:
        """Write what is buffered in one transaction. Inside a caller's transaction, pass
        `announce=False` and call `announce` once that transaction has committed."""
        if not self.size:
            return
        attempts, updates, deferrals, holds = self.attempts, self.updates, self.deferrals, self.holds
        cancels = self.cancels
        stats, tallies, gone, failures = self.stats, self.tallies, self.gone, self.failures
        self._reset()
        now = clock.now()
        disabled: list[health.Disabled] = []
        try:
            with sql.dispatcher_transaction():
                _rows_write(attempts=attempts, outcomes=updates, releases=deferrals, holds=holds, cancels=cancels)
                stats.flush()
                failing = health.health_apply(tallies)
                for profile_id, reason in gone.items():
                    if health.profile_disable(profile_id=profile_id, reason=reason, now=now):
                        disabled.append(health.Disabled(profile_id, reason))
                disabled.extend(health.abnormal_check([p for p in failing if p not in gone], now=now))
        except Exception:
            # Nothing of this batch is written; its leases expire and the deliveries are sent again.
            logger.exception("dispatch.record_failed", extra={"attempts": len(attempts)})
            return
        _metrics_count(attempts=attempts, outcomes=updates)
        if cancels:
            metrics.deliveries_finished.labels(outcome=Delivery.State.CANCELLED.value).inc(len(cancels))
        self.announcements.append((disabled, failures))
        if announce:
            self.announce()

    def announce(self) -> None:
        """Signals and events about what was written; call once the writing transaction committed."""
        announcements, self.announcements = self.announcements, []
        for disabled, failures in announcements:
            if disabled:
                health.disabled_announce(disabled)
            if failures:
                _failures_announce(failures)


def _metrics_count(*, attempts: list[tuple], outcomes: list[tuple]) -> None:
    """What a committed flush wrote, in the metrics: attempt durations by outcome, deliveries finished."""
    durations: dict[str, Any] = {}
    for row in attempts:
        outcome = row[ATTEMPT_OUTCOME_INDEX]
        histogram = durations.get(outcome)
        if histogram is None:
            histogram = durations[outcome] = metrics.attempt_duration.labels(outcome=outcome)
        histogram.observe(row[ATTEMPT_DURATION_INDEX] / 1000)
    finished: dict[str, int] = {}
    for row in outcomes:
        if row[0] in FINISHED_STATES:
            finished[row[0]] = finished.get(row[0], 0) + 1
    for state, count in finished.items():
        metrics.deliveries_finished.labels(outcome=state).inc(count)


def _rows_write(
    *, attempts: list[tuple], outcomes: list[tuple], releases: list[tuple], holds: list[tuple], cancels: list[tuple]
) -> None:
    """One statement per kind of row: over arrays on PostgreSQL, executemany on SQLite (in-process,
    where a statement per row costs little). Every delivery row written must still be leased to us;
    a delivery deleted meanwhile (its profile was) gets no attempt and keeps the batch from failing."""
    if sql.is_postgresql():
        _rows_write_postgresql(attempts=attempts, outcomes=outcomes, releases=releases, holds=holds, cancels=cancels)
        return
    table, names = Delivery._meta.db_table, ", ".join(name for name, _ in ATTEMPT_COLUMNS)
    with connection.cursor() as cursor:
        if attempts:
            cursor.executemany(
                f"INSERT INTO {Attempt._meta.db_table} ({names}) SELECT {sql.placeholders(len(ATTEMPT_COLUMNS))}"  # noqa: S608
                f" WHERE EXISTS (SELECT 1 FROM {table} WHERE id = %s)",
                [(*row, row[1]) for row in attempts],
            )
        if outcomes:
            # A result on a row held meanwhile keeps it held unless it settled the delivery.
            cursor.executemany(
                f"UPDATE {table} SET state = CASE WHEN state = 'held' AND %s = 'pending' THEN 'held' ELSE %s END,"  # noqa: S608
                " attempt_count = %s, next_attempt_at = %s, lease_expires_at = NULL, leased_by = '',"
                " last_status_code = %s, last_error_class = %s, completed_at = %s WHERE id = %s AND leased_by = %s",
                [(row[0], *row) for row in outcomes],
            )
        if releases:
            cursor.executemany(
                f"UPDATE {table} SET next_attempt_at = %s, lease_expires_at = NULL, leased_by = ''"  # noqa: S608
                " WHERE id = %s AND leased_by = %s",
                releases,
            )
        if holds:
            cursor.executemany(
                f"UPDATE {table} SET state = 'held', lease_expires_at = NULL, leased_by = ''"  # noqa: S608
                " WHERE id = %s AND leased_by = %s AND state = 'pending'",
                holds,
            )
        if cancels:
            cursor.executemany(
                f"UPDATE {table} SET state = 'cancelled', completed_at = %s, lease_expires_at = NULL, leased_by = ''"  # noqa: S608
                " WHERE id = %s AND leased_by = %s AND state IN ('pending', 'held')",
                cancels,
            )


def _rows_write_postgresql(
    *, attempts: list[tuple], outcomes: list[tuple], releases: list[tuple], holds: list[tuple], cancels: list[tuple]
) -> None:
    table, names = Delivery._meta.db_table, ", ".join(name for name, _ in ATTEMPT_COLUMNS)
    leased_to_us = f"{table}.id = v.id AND {table}.leased_by = v.leased_by"
    with connection.cursor() as cursor:
        if attempts:
            rows, params = sql.rows_as_set(ATTEMPT_COLUMNS, attempts)
            cursor.execute(
                f"INSERT INTO {Attempt._meta.db_table} ({names}) SELECT {names} FROM {rows}"  # noqa: S608
                f" WHERE EXISTS (SELECT 1 FROM {table} WHERE {table}.id = v.delivery_id)",
                params,
            )
        settled = (
            f"state = CASE WHEN {table}.state = 'held' AND v.state = 'pending' THEN 'held' ELSE v.state END,"
            " attempt_count = v.attempt_count, next_attempt_at = v.next_attempt_at, lease_expires_at = NULL,"
            " leased_by = '', last_status_code = v.last_status_code, last_error_class = v.last_error_class,"
            " completed_at = v.completed_at"
        )
        for columns, changes, assignments, condition in (
            (OUTCOME_COLUMNS, outcomes, settled, ""),
            (
                RELEASE_COLUMNS,
                releases,
                "next_attempt_at = v.next_attempt_at, lease_expires_at = NULL, leased_by = ''",
                "",
            ),
            (
                HOLD_COLUMNS,
                holds,
                "state = 'held', lease_expires_at = NULL, leased_by = ''",
                f" AND {table}.state = 'pending'",
            ),
            (
                CANCEL_COLUMNS,
                cancels,
                "state = 'cancelled', completed_at = v.completed_at, lease_expires_at = NULL, leased_by = ''",
                f" AND {table}.state IN ('pending', 'held')",
            ),
        ):
            if changes:
                rows, params = sql.rows_as_set(columns, changes)
                cursor.execute(
                    f"UPDATE {table} SET {assignments} FROM {rows} WHERE {leased_to_us}{condition}",  # noqa: S608
                    params,
                )


def _failures_announce(failures: list[tuple[Any, Any, str]]) -> None:
    """`delivery_failed(delivery, attempt, failure_class)` for each failed attempt, after commit."""
    if not signals.delivery_failed.has_listeners(Delivery):
        return
    deliveries = Delivery.objects.select_related("profile", "event", "account").in_bulk([d for d, _, _ in failures])
    attempts = Attempt.objects.in_bulk([a for _, a, _ in failures])
    for delivery_id, attempt_id, failure_class in failures:
        delivery = deliveries.get(delivery_id)
        if delivery is None:
            continue
        responses = signals.delivery_failed.send_robust(
            sender=Delivery, delivery=delivery, attempt=attempts.get(attempt_id), failure_class=failure_class
        )
        for receiver, response in responses:
            if isinstance(response, Exception):
                logger.error(
                    "signal.receiver_failed",
                    extra={"receiver": getattr(receiver, "__qualname__", str(receiver)), "error": repr(response)},
                )
