"""The delivery engine: claim due deliveries with a lease, send them concurrently, record outcomes.

Work is claimed, not assigned (see `claiming`): a claimed row is due again only if its worker dies,
when its lease ends. Requests go out on the transport's event loop (about 100 in flight per worker, at
most `max_in_flight` per profile). A claim takes of each profile only what it has room for and leaves
the rest due in their place, so a slow endpoint never holds up the others and a backlog still goes
out oldest first. Outcomes are written in bulk (see `recording`). Memory stays bounded: a worker
holds at most `concurrency` requests.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from callbacks import clock
from callbacks.delivery import sql, stopping
from callbacks.delivery.batching import batch_order, batches_settle
from callbacks.delivery.claim import (
    EventCache,
    ProfileCache,
    backlog_park,
    deliveries_claim,
    due_work_exists,
    next_due_at,
)
from callbacks.delivery.record.writes import ClaimedRow, Job, Recorder
from callbacks.delivery.render.request import Item, request_render
from callbacks.delivery.send.transport import TransportResult, transport
from callbacks.models import CallbackProfile

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
DEFAULT_CONCURRENCY = 100
DEFAULT_LEASE_S = 300
DEFAULT_RUN_BUDGET_S = 60
DEFAULT_LINGER_S = 2.0
MAX_LINGER_S = 10.0
FLUSH_ROWS = 500
FLUSH_INTERVAL_S = 0.1
IDLE_POLL_S = 0.01
MAX_LOCAL_WAIT_S = 0.5
BACKLOG_CALL_INTERVAL_S = 1.5  # longer than the help flag lives (tasks.HELP_INTERVAL_S)
SLOW_PROFILE_S = 1.0  # a profile answering slower than this has its surplus backlog parked
PARK_S = 5.0


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# --- the dispatcher ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class RunResult:
    processed: int
    budget_spent: bool
    stopped: bool = False


class Dispatcher:
    """One worker's pipeline: claim → render → send (threads) → record in bulk, with bounded memory."""

    def __init__(self, *, worker_id: str, concurrency: int | None = None, lease_s: float | None = None) -> None:
        self.worker_id = worker_id
        self.concurrency = concurrency or int(_setting("CALLBACKS_DISPATCH_CONCURRENCY", DEFAULT_CONCURRENCY))
        self.lease_s = lease_s or float(_setting("CALLBACKS_LEASE_S", DEFAULT_LEASE_S))
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.recorder = Recorder(worker_id)
        self.profiles = ProfileCache()
        self.events = EventCache()
        self.in_flight = 0
        self.in_flight_by_profile: dict[Any, int] = defaultdict(int)
        self.waiting: dict[Any, deque[Job]] = defaultdict(deque)
        self.waiting_count = 0
        self.latency_s: dict[Any, float] = {}
        self.oldest_in_flight: dict[Any, float] = {}
        self.limits: dict[Any, int] = {}
        self.parked_at: dict[Any, float] = {}
        self.sent: dict[int, Job] = {}  # requests in flight, by id(job)
        self._first_unflushed: float | None = None

    @property
    def busy(self) -> bool:
        return bool(self.in_flight or self.waiting_count)

    @property
    def free_slots(self) -> int:
        return self.concurrency - self.in_flight - self.waiting_count

    # claim and hand out ---------------------------------------------------------------------------
    def claim(self, limit: int) -> int:
        """Claim and hand out up to `limit` deliveries. Buffered outcomes are written in the same
        transaction: on SQLite every write transaction queues behind the others, producers included."""
        now = clock.now()
        self._shed_waiting()
        saturated = tuple(profile_id for profile_id in self.limits if self._room(profile_id) <= 0)
        with sql.dispatcher_transaction():
            self.recorder.releases_write()
            if self.recorder.frees_keys:
                # First, so the next delivery of a key just settled is claimed in this round, not the next.
                self.recorder.flush(announce=False)
            self._park_slow(saturated, now)
            rows = deliveries_claim(
                worker_id=self.worker_id,
                limit=limit,
                now=now,
                lease_s=self.lease_s,
                skip_profiles=saturated,
                room_for=self._rooms,
            )
            if rows:
                rows = batches_settle(
                    rows,
                    self.profiles.get_many({row.profile_id for row in rows}),
                    worker_id=self.worker_id,
                    now=now,
                    lease_end=sql.datetime_param(now + timedelta(seconds=self.lease_s)),
                )
            # Last: the rollup and profile rows it updates are shared with other workers, so their locks
            # are held only until the commit that follows.
            self.recorder.flush(announce=False)
        self._first_unflushed = None
        self.recorder.announce()
        if not rows:
            return 0
        snapshots = self.profiles.get_many({row.profile_id for row in rows})
        events = self.events.get_many({row.event_id for row in rows})
        by_profile: dict[Any, list[ClaimedRow]] = defaultdict(list)
        for row in rows:
            by_profile[row.profile_id].append(row)
        for profile_id, profile_rows in by_profile.items():
            snapshot = snapshots.get(profile_id)
            present = [row for row in profile_rows if row.event_id in events]
            if snapshot is None:
                self.recorder.cancel(profile_rows)  # the profile was deleted (rows gone with it: nothing matches)
                continue
            if not present:
                continue  # its events were removed meanwhile, and the rows with them
            if snapshot.status != CallbackProfile.Status.ENABLED:
                self.recorder.hold(present)
                continue
            for group in _groups(present, batches=snapshot.can_batch):
                items = [Item(delivery_id=row.id, event=events[row.event_id]) for row in group]
                batch_id = group[0].batch_id if snapshot.can_batch else None
                self._enqueue(Job(snapshot=snapshot, rows=group, items=items, batch_id=batch_id))
        self._mark_unflushed()
        return len(rows)

    def _park_slow(self, saturated: tuple, now: datetime) -> None:
        """A saturated profile that answers slowly keeps due only what its slots get through in PARK_S;
        the rest of its due backlog waits that long out of the way of other profiles' claims."""
        started = time.monotonic()
        for profile_id in saturated:
            # Slow by its answers, or by its oldest request in flight while none has come back yet.
            oldest = self.oldest_in_flight.get(profile_id)
            latency_s = max(self.latency_s.get(profile_id) or 0.0, started - oldest if oldest else 0.0)
            if latency_s < SLOW_PROFILE_S:
                continue
            if started - self.parked_at.get(profile_id, -PARK_S) < PARK_S:
                continue
            self.parked_at[profile_id] = started
            keep = int(self.limits[profile_id] * PARK_S / latency_s) + 1
            backlog_park(profile_id=profile_id, keep=keep, until=now + timedelta(seconds=PARK_S), now=now)

    def _rooms(self, profile_ids: set[Any]) -> dict[Any, int]:
        """How many deliveries each profile can take now (a claim leaves the rest due in their place).
        A profile that is deleted or not enabled takes all: its rows are cancelled or held untried."""
        snapshots = self.profiles.get_many(profile_ids)
        rooms = {}
        for profile_id in profile_ids:
            snapshot = snapshots.get(profile_id)
            if snapshot is None or snapshot.status != CallbackProfile.Status.ENABLED:
                rooms[profile_id] = self.concurrency * 1000
                continue
            self.limits[profile_id] = snapshot.max_in_flight
            rooms[profile_id] = self._room(profile_id) * max(1, snapshot.batch_max_size)
        return rooms

    def _room(self, profile_id: Any) -> int:
        """Requests a profile can take now: free slots, and places to wait for one."""
        limit = self.limits.get(profile_id, 1)
        in_flight = self.in_flight_by_profile[profile_id]
        return max(0, limit - in_flight) + self._allowed(profile_id) - len(self.waiting[profile_id])

    def _enqueue(self, job: Job) -> None:
        profile_id = job.snapshot.id
        limit = self.limits[profile_id] = job.snapshot.max_in_flight
        if self.in_flight_by_profile[profile_id] < limit:
            self._submit(job)
            return
        queue = self.waiting[profile_id]
        if len(queue) < self._allowed(profile_id):
            queue.append(job)
            self.waiting_count += 1
            return
        self.recorder.release(job.rows)

    def _shed_waiting(self) -> None:
        """A profile found slower than thought gives back what waits here beyond its allowance: the
        latest-due jobs, due again as they were, to this worker when it has room or to another."""
        for profile_id, jobs in self.waiting.items():
            surplus = len(jobs) - self._allowed(profile_id)
            if surplus <= 0:
                continue
            for _ in range(surplus):
                self.recorder.release(jobs.pop().rows)
            self.waiting_count -= surplus

    def _allowed(self, profile_id: Any) -> int:
        """How many of a profile's jobs may wait here for a slot: what its slots get through in
        MAX_LOCAL_WAIT_S, or one round of slots while it has not answered yet."""
        limit = self.limits.get(profile_id, 1)
        latency_s = self._latency_estimate(profile_id)
        if latency_s is None:
            return limit
        return int(MAX_LOCAL_WAIT_S * limit / latency_s) if latency_s > 0 else self.concurrency

    def _latency_estimate(self, profile_id: Any) -> float | None:
        """How long the profile takes to answer: the running average, or longer while its oldest
        request in flight has been waiting longer than that (a profile that just went slow)."""
        average = self.latency_s.get(profile_id)
        if average is None:  # not heard back yet
            return None
        started = self.oldest_in_flight.get(profile_id)
        waited = time.monotonic() - started if started is not None else 0.0
        return max(average, waited)

    def _submit(self, job: Job) -> None:
        try:
            request = request_render(job.snapshot, job.items, batch_id=job.batch_id)
        except Exception as error:  # a template or cipher the profile cannot use: a failed attempt
            logger.warning("dispatch.render_failed", extra={"profile_id": str(job.snapshot.id), "error": repr(error)})
            failed = TransportResult(started_at=time.time(), error_class="render_error", error_detail=repr(error)[:500])
            self.recorder.record(job, None, failed)
            return
        self.in_flight += 1
        self.in_flight_by_profile[job.snapshot.id] += 1
        job.sent_at = time.monotonic()
        job.started_at = time.time()
        self.sent[id(job)] = job
        self.oldest_in_flight.setdefault(job.snapshot.id, job.sent_at)
        results = self.results
        transport.submit(
            request,
            connect_timeout_s=job.snapshot.connect_timeout_s,
            response_timeout_s=job.snapshot.response_timeout_s,
            done=lambda result: results.put((job, request, result)),
        )

    # results ------------------------------------------------------------------------------------------
    def collect(self, timeout_s: float) -> int:
        """Record the results that arrived, waiting up to `timeout_s` for the first one."""
        collected = 0
        try:
            item = self.results.get(timeout=timeout_s) if timeout_s > 0 else self.results.get_nowait()
        except queue.Empty:
            return 0
        while True:
            job, request, result = item
            profile_id = job.snapshot.id
            self.sent.pop(id(job), None)
            self.in_flight -= 1
            self.in_flight_by_profile[profile_id] -= 1
            if self.oldest_in_flight.get(profile_id) == job.sent_at:
                # Roughly: the next oldest is not tracked, so the estimate restarts from this answer.
                del self.oldest_in_flight[profile_id]
            previous = self.latency_s.get(profile_id)
            seconds = result.duration_ms / 1000
            self.latency_s[profile_id] = seconds if previous is None else previous * 0.8 + seconds * 0.2
            self.recorder.record(job, request, result)
            collected += 1
            waiting = self.waiting.get(profile_id)
            if waiting:
                self.waiting_count -= 1
                self._submit(waiting.popleft())
            try:
                item = self.results.get_nowait()
            except queue.Empty:
                break
        self._mark_unflushed()
        return collected

    def _mark_unflushed(self) -> None:
        if self._first_unflushed is None and self.recorder.size:
            self._first_unflushed = time.monotonic()

    def flush(self, *, force: bool = False) -> None:
        size = self.recorder.size
        if not size:
            return
        if force or size >= FLUSH_ROWS or time.monotonic() - (self._first_unflushed or 0) >= FLUSH_INTERVAL_S:
            self.recorder.flush()
            self._first_unflushed = None

    def drain(self, *, send_waiting: bool = True) -> None:
        """Wait for every request in flight, then write everything. Jobs still waiting for a slot are
        sent too, or with `send_waiting=False` put back due as they were (a run that ends hands them on)."""
        if not send_waiting:
            self.waiting_release()
        while self.busy:
            self.collect(0.05)
            self.flush()
        self.flush(force=True)

    def waiting_release(self) -> None:
        """Put back every job waiting for a slot, untried and due as it was (lease cleared)."""
        for jobs in self.waiting.values():
            while jobs:
                self.recorder.release(jobs.popleft().rows)
        self.waiting_count = 0

    def stop(self, *, deadline: float) -> None:
        """Stop: hand back what is not sent, wait for answers until `deadline`, write everything. A request
        still unanswered then is recorded as an attempt of unknown outcome, its delivery due again at once."""
        self.waiting_release()
        self.flush(force=True)
        while self.in_flight and time.monotonic() < deadline:
            self.collect(min(0.05, max(0.0, deadline - time.monotonic())))
            self.flush()
        self.collect(0)
        for job in self.unanswered():
            self.recorder.unknown(job, reason="the worker stopped before the answer came")
        self.flush(force=True)

    def unanswered(self) -> list[Job]:
        return list(self.sent.values())


def _groups(rows: list[ClaimedRow], *, batches: bool) -> list[list[ClaimedRow]]:
    """One request per delivery, or per batch (its items in the batch's order). A profile changed
    since to a body or method that carries one event sends its batches' members one by one."""
    by_batch: dict[Any, list[ClaimedRow]] = defaultdict(list)
    groups = []
    for row in rows:
        if row.batch_id is None or not batches:
            groups.append([row])
        else:
            by_batch[row.batch_id].append(row)
    return groups + [batch_order(batch) for batch in by_batch.values()]


def dispatch_batch(*, worker_id: str, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Claim up to `batch_size` due deliveries, send them, record every outcome; returns how many."""
    dispatcher = Dispatcher(worker_id=worker_id)
    claimed = dispatcher.claim(batch_size)
    dispatcher.drain()
    return claimed


def _linger_for(linger_s: float) -> float:
    """Stay a little when the next retry or filling batch falls due soon (the sweep runs only each minute)."""
    upcoming = next_due_at()
    if upcoming is None:
        return linger_s
    wait = (upcoming - clock.now()).total_seconds()
    return max(linger_s, max(wait, 0.0) + 2 * IDLE_POLL_S) if wait <= MAX_LINGER_S else linger_s


def dispatch_run(
    *,
    worker_id: str,
    budget_s: float | None = None,
    linger_s: float | None = None,
    batch_size: int | None = None,
    on_backlog: Callable[[], object] | None = None,
) -> RunResult:
    """Deliver until nothing is due for `linger_s`, or the time budget is spent (the caller hands over).

    Claims whenever a quarter of the slots are free, so sending, claiming and recording overlap. While
    claims come back full, `on_backlog` is called at most every BACKLOG_CALL_INTERVAL_S (the task asks
    for another worker to join in, again while the backlog lasts: a request can wait in a busy cluster).
    """
    budget_s = float(_setting("CALLBACKS_DISPATCH_BUDGET_S", DEFAULT_RUN_BUDGET_S)) if budget_s is None else budget_s
    linger_s = float(_setting("CALLBACKS_DISPATCH_LINGER_S", DEFAULT_LINGER_S)) if linger_s is None else linger_s
    batch_size = batch_size or int(_setting("CALLBACKS_DISPATCH_BATCH_SIZE", DEFAULT_BATCH_SIZE))
    dispatcher = Dispatcher(worker_id=worker_id)
    started = time.monotonic()
    deadline = started + budget_s
    idle_since: float | None = None
    linger_now = linger_s
    next_look = 0.0
    backlog = False
    backlog_called_at = -BACKLOG_CALL_INTERVAL_S
    claim_threshold = max(1, min(batch_size, dispatcher.concurrency) // 4)
    budget_spent = False
    while True:
        if stopping.stop_requested():
            dispatcher.stop(deadline=stopping.stop_deadline())
            logger.info("dispatch.stopped", extra={"worker_id": worker_id, "processed": dispatcher.recorder.processed})
            return RunResult(processed=dispatcher.recorder.processed, budget_spent=False, stopped=True)
        now_m = time.monotonic()
        if now_m >= deadline:
            budget_spent = True
            break
        free = dispatcher.free_slots
        claimed = 0
        if free >= claim_threshold and now_m >= next_look:
            # A read-only look first (a claim takes SQLite's write lock even when it finds nothing),
            # unless the last claim came back full.
            limit = min(batch_size, free)
            if backlog or due_work_exists(now=clock.now()):
                claimed = dispatcher.claim(limit)
            backlog = claimed == limit
            if backlog and on_backlog is not None and now_m - backlog_called_at >= BACKLOG_CALL_INTERVAL_S:
                backlog_called_at = now_m
                on_backlog()
            if not claimed:
                next_look = now_m + IDLE_POLL_S
        if claimed:
            idle_since = None
        elif not dispatcher.busy:
            dispatcher.flush(force=True)
            if idle_since is None:
                idle_since, linger_now = now_m, _linger_for(linger_s)
            if now_m - idle_since >= linger_now:
                break
            time.sleep(IDLE_POLL_S)
            continue
        dispatcher.collect(0.002 if dispatcher.free_slots >= claim_threshold else 0.05)
        dispatcher.flush()
    dispatcher.drain(send_waiting=False)
    processed = dispatcher.recorder.processed
    if processed:
        logger.info(
            "dispatch.run_done",
            extra={"worker_id": worker_id, "processed": processed, "seconds": round(time.monotonic() - started, 3)},
        )
    return RunResult(processed=processed, budget_spent=budget_spent and due_work_exists(now=clock.now()))
