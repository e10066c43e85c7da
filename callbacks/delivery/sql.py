"""Values in and out of raw SQL on SQLite and PostgreSQL alike, for the engine's bulk statements.

The hot path speaks SQL directly (one statement per batch, no model instances): these helpers
give parameters and results the same shape on both databases.
"""

from __future__ import annotations

import contextlib
import functools
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils.dateparse import parse_datetime


@functools.cache
def _vendor() -> str:
    # Read once: `connection` is a thread-local proxy, and each look costs microseconds per value.
    return connection.vendor


def is_postgresql() -> bool:
    return _vendor() == "postgresql"


# psycopg prepares a statement after this many runs unless told; Django turns preparing off (None). Set
# this high, the connection prepares only what `rows_fetched` runs and nothing of Django's own.
_PREPARE_ONLY_WHEN_ASKED = 2**31


def rows_fetched(statement: str, parameters: dict[str, Any]) -> list[tuple]:
    """PostgreSQL: run `statement` in the caller's transaction (or autocommit) and return its rows.

    With DATABASE_PREPARED_STATEMENTS (the default) on a cursor of the driver's own that binds on the
    server, so the statement is planned once per connection and then only run (the ingest statement
    costs PostgreSQL half as much so); without the health check of Django's cursors, a `SELECT 1`
    round trip: a statement that meets a dropped connection fails, and the caller's retry on a Django
    cursor reconnects. Off, as Django runs any statement (for a pooler that cannot keep prepared
    statements per client, docs/configuration.md)."""
    if not settings.DATABASE_PREPARED_STATEMENTS:
        with connection.cursor() as cursor:
            cursor.execute(statement, parameters)
            return cursor.fetchall()
    import psycopg

    connection.ensure_connection()
    driver_connection = connection.connection
    if driver_connection.prepare_threshold is None:
        driver_connection.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
    with connection.wrap_database_errors, psycopg.Cursor(driver_connection) as cursor:
        cursor.execute(statement, parameters, prepare=True)
        return cursor.fetchall()


def uuid_param(value: uuid.UUID | str) -> Any:
    """A UUID as the column stores it: native on PostgreSQL, 32 hex characters on SQLite."""
    if not isinstance(value, uuid.UUID):
        value = uuid.UUID(str(value))
    return value if _vendor() == "postgresql" else value.hex


def uuid_value(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def datetime_param(value: datetime | None) -> Any:
    if value is None or _vendor() == "postgresql":
        return value  # aware datetimes as they are (what Django's PostgreSQL backend passes on)
    if _vendor() != "sqlite":
        return connection.ops.adapt_datetimefield_value(value)
    # What Django's SQLite backend stores (naive UTC text), without its per-call checks.
    return str(value.astimezone(UTC).replace(tzinfo=None))


def datetime_value(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(str(value))
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def json_param(value: Any) -> str:
    return orjson.dumps(value).decode()


def json_value(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def rows_as_set(columns: Sequence[tuple[str, str]], rows: Sequence[tuple]) -> tuple[str, list[str]]:
    """PostgreSQL: `rows` as one set `v` with the given (name, type) columns, and its one parameter.

    One statement for a whole batch costs the server far less than one per row, and one JSON document
    costs the client far less than binding every value on its own."""
    expressions = ", ".join(
        f"r->>{index} AS {name}" if sql_type == "text" else f"(r->>{index})::{sql_type} AS {name}"
        for index, (name, sql_type) in enumerate(columns)
    )
    document = orjson.dumps(rows).decode()  # UUIDs and datetimes as PostgreSQL reads them
    return f"(SELECT {expressions} FROM jsonb_array_elements(%s::jsonb) AS r) AS v", [document]  # noqa: S608


@contextlib.contextmanager
def dispatcher_transaction() -> Iterator[None]:
    """A transaction of the dispatcher's own bookkeeping (claims, outcomes).

    Its commit does not wait for the disk (PostgreSQL: `synchronous_commit` off; SQLite: `synchronous`
    NORMAL, where every other commit runs FULL): a crash of the machine can then lose the last few
    milliseconds of bookkeeping, which sends those deliveries once more (at least once, with the same
    webhook-id), never loses one. Ingesting events keeps the full wait: an accepted event is durable.
    On PostgreSQL it also reads by index only: after a burst of new rows the planner's statistics lag
    behind, and it would fetch every due row and sort them for a claim of a few hundred.
    """
    # SQLite takes the setting per connection, and only outside a transaction: set for this one, then
    # put back. Nested in another transaction, it runs as that one does.
    relaxed = _vendor() == "sqlite" and not connection.in_atomic_block
    if relaxed:
        _sqlite_synchronous("NORMAL")
    try:
        with transaction.atomic():
            if is_postgresql():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('synchronous_commit', 'off', true),"
                        " set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)"
                    )
            yield
    finally:
        if relaxed:
            try:
                _sqlite_synchronous("FULL")
            except DatabaseError:
                connection.close()  # opened again with the settings' FULL; the first error stays the one raised


def _sqlite_synchronous(level: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA synchronous = {level}")
