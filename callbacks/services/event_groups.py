"""Group commit: events posted at the same moment in one web process share one transaction.

Each commit costs a write to disk (SQLite: its WAL; PostgreSQL: a flush of its log). A request that
finds another one writing waits for it; the next writer then stores everything that waited meanwhile in
one transaction. Each caller returns only once the transaction holding its events has committed, so an
answered event is still a durable one; a group that fails is stored again caller by caller, so one bad
request never fails the others.

On SQLite the writers of all web processes also queue on a lock file beside the database: SQLite's own
wait for its write lock polls with sleeps of up to 100 ms, a file lock hands over the moment it is free.
Against the delivery workers, which hold SQLite's lock often and briefly, the writer asks for it every
millisecond instead of backing off.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import OperationalError, connection, transaction

from callbacks.models import Account, Event
from callbacks.services.event_writes import EventRow

# (account, rows) → the events, in the order of `rows`.
StoreOnce = Callable[[Account, list[EventRow]], list[Event]]


@dataclass(slots=True)
class _Waiting:
    account: Account
    rows: list[EventRow]
    events: list[Event] | None = None
    error: BaseException | None = None
    done: bool = False
    keys: set[str] = field(default_factory=set)


SQLITE_BEGIN_POLL_S = 0.001

_waiting: list[_Waiting] = []
_turn = threading.Condition()  # guards _waiting and _writing; notified when a write ends
_writing = False


def rows_store_grouped(
    *, account: Account, rows: list[EventRow], store_once: StoreOnce, store: StoreOnce
) -> list[Event]:
    """Store `rows` together with whatever other threads of this process are storing now.

    `store_once` writes one caller's rows inside a transaction it is given; `store` is the caller's own
    path (its own transaction, retries), used alone inside a caller's transaction and after a group failed.
    """
    if connection.in_atomic_block:
        return store(account, rows)
    mine = _Waiting(account=account, rows=rows, keys={row.idempotency_key for row in rows if row.idempotency_key})
    global _writing
    group: list[_Waiting] = []
    with _turn:
        _waiting.append(mine)
        while _writing and not mine.done:
            _turn.wait()
        if not mine.done:
            # This thread writes next: everything waiting by now goes in its transaction.
            _writing = True
            group = _waiting[:]
            _waiting.clear()
    if group:
        try:
            with _processes_queued():
                _group_store(group, store_once=store_once, store=store)
        finally:
            with _turn:
                for waiting in group:
                    if not waiting.done:  # the writer was interrupted (not an error of the database)
                        waiting.error = RuntimeError("The events were not stored: their writer was interrupted.")
                        waiting.done = True
                _writing = False
                _turn.notify_all()
    if mine.error is not None:
        raise mine.error
    return mine.events


def _group_store(group: list[_Waiting], *, store_once: StoreOnce, store: StoreOnce) -> None:
    together, alone = _split(group)
    # One write per account: its callers' rows side by side, then handed back to each.
    by_account: dict[object, list[_Waiting]] = {}
    for waiting in together:
        by_account.setdefault(waiting.account.pk, []).append(waiting)
    stored: list[tuple[_Waiting, list[Event]]] = []
    if _statements_stand_alone(together):
        # Each account's write is one statement, atomic and durable on its own: no BEGIN and COMMIT
        # round trips. An account whose statement fails is stored again caller by caller.
        for callers in by_account.values():
            try:
                stored.extend(_handed_back(callers, store_once(callers[0].account, _rows_of(callers))))
            except Exception:
                alone = callers + alone
    elif together:
        try:
            with _transaction():
                for callers in by_account.values():
                    stored.extend(_handed_back(callers, store_once(callers[0].account, _rows_of(callers))))
        except Exception:  # stored again one by one below, so each caller gets its own answer
            stored, alone = [], together + alone
    for waiting, events in stored:
        waiting.events, waiting.done = events, True
    for waiting in alone:
        try:
            waiting.events = store(waiting.account, waiting.rows)
        except Exception as error:
            waiting.error = error
        waiting.done = True


def _statements_stand_alone(together: list[_Waiting]) -> bool:
    """Whether each account's write needs no transaction around it: on PostgreSQL, rows without
    idempotency keys (nothing to look up first) are written in one statement (services/event_writes.py)."""
    return connection.vendor == "postgresql" and not any(waiting.keys for waiting in together)


def _rows_of(callers: list[_Waiting]) -> list[EventRow]:
    return [row for waiting in callers for row in waiting.rows]


def _handed_back(callers: list[_Waiting], events: list[Event]) -> list[tuple[_Waiting, list[Event]]]:
    """Each caller with its own events, in the order their rows were written."""
    handed = []
    for waiting in callers:
        handed.append((waiting, events[: len(waiting.rows)]))
        events = events[len(waiting.rows) :]
    return handed


@contextlib.contextmanager
def _transaction():
    """A transaction; on SQLite begun by asking for the write lock every millisecond until the busy timeout."""
    if connection.vendor != "sqlite":
        with transaction.atomic():
            yield
        return
    busy_timeout_s = float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5))
    deadline = time.monotonic() + busy_timeout_s
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            atomic = transaction.atomic()
            try:
                atomic.__enter__()
                break
            except OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(SQLITE_BEGIN_POLL_S)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    try:
        yield
    except BaseException:
        if not atomic.__exit__(*sys.exc_info()):
            raise
    else:
        atomic.__exit__(None, None, None)


def _split(group: list[_Waiting]) -> tuple[list[_Waiting], list[_Waiting]]:
    """Callers that can share a transaction, and those naming an idempotency key another one names too
    (stored after the group, so the later one finds the earlier one's event)."""
    together: list[_Waiting] = []
    alone: list[_Waiting] = []
    taken: set[tuple[object, str]] = set()
    for waiting in group:
        keys = {(waiting.account.pk, key) for key in waiting.keys}
        if keys & taken:
            alone.append(waiting)
        else:
            taken |= keys
            together.append(waiting)
    return together, alone


_lock_file: tuple[int, int] | None = None  # (process id, descriptor): a forked child opens its own


def _lock_path() -> str | None:
    database = settings.DATABASES["default"]
    name = str(database.get("NAME") or "")
    if connection.vendor != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return name + "-ingest.lock"


@contextlib.contextmanager
def _processes_queued():
    """SQLite: hold the installation's ingest lock file (web processes take turns); elsewhere nothing."""
    global _lock_file
    path = _lock_path()
    if path is None:
        yield
        return
    if _lock_file is None or _lock_file[0] != os.getpid():
        _lock_file = (os.getpid(), os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    descriptor = _lock_file[1]
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
