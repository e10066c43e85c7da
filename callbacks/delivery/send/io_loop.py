"""The transport's event loop: one thread per process with a selector, timers, an inbox that other
threads post work to, the kept-alive connections (watched while idle, so one the server closed
leaves the pool at once), and resolver threads for look-ups that may block.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import selectors
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

logger = logging.getLogger(__name__)

MAX_IDLE_CONNECTIONS = 512
# Threads are started as look-ups need them; one name takes one thread however many requests wait on
# it, so a few slow names leave the rest to the others. A look-up past the connect timeout is dropped
# by its requests, and its thread comes free when the system resolver gives up.
RESOLVER_THREADS = 64
MAX_SELECT_WAIT_S = 1.0
MAX_TIMERS = 4096


class Connection:
    """One socket to scheme://host:port, idle in the pool or carrying one exchange."""

    __slots__ = ("key", "reused", "sock")

    def __init__(self, key: tuple[str, str, int], sock: socket.socket) -> None:
        self.key = key
        self.sock = sock
        self.reused = False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class IoLoop:
    """The thread that moves every request of this process, started on first use (and again in a
    forked child, where threads do not survive). Work comes in through `post` from any thread."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        for inherited in (
            getattr(self, "_selector", None),
            getattr(self, "_wake_reader", None),
            getattr(self, "_wake_writer", None),
        ):
            if inherited is not None:
                inherited.close()  # the parent's: this process starts its own
        self._inbox: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._thread_id: int | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._wake_pending = False
        self._timers: list[tuple[float, int, Any, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._idle: OrderedDict[Connection, None] = OrderedDict()
        self._idle_by_key: dict[tuple[str, str, int], list[Connection]] = {}
        self._resolver: ThreadPoolExecutor | None = None
        self._lookups: dict[Hashable, list[Callable[[Callable[[], Any]], None]]] = {}

    # --- from any thread ------------------------------------------------------------------------------
    def post(self, work: Callable[[], None]) -> None:
        """Run `work` on the loop's thread, soon."""
        self._started()
        self._inbox.append(work)
        if threading.get_ident() == self._thread_id:
            return  # posted by the loop itself: it reads the inbox before it waits again
        if not self._wake_pending:
            self._wake_pending = True
            with contextlib.suppress(OSError):  # full of wake-ups already: the loop is on its way
                self._wake_writer.send(b"\0")

    def _started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._selector = selectors.DefaultSelector()
                self._wake_reader, self._wake_writer = socket.socketpair()
                self._wake_reader.setblocking(False)
                self._wake_writer.setblocking(False)
                self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
                self._resolver = ThreadPoolExecutor(max_workers=RESOLVER_THREADS, thread_name_prefix="callback-dns")
                thread = threading.Thread(target=self._run, name="callback-transport", daemon=True)
                thread.start()
                self._thread = thread

    # --- on the loop's thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        self._thread_id = threading.get_ident()
        selector = self._selector
        while True:
            wait = MAX_SELECT_WAIT_S
            if self._timers:
                wait = min(wait, max(0.0, self._timers[0][0] - time.monotonic()))
            for key, _ in selector.select(wait):
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        while self._wake_reader.recv(4096):
                            pass
                    # Only now, and before the inbox is read: a post from here on sends a new wake-up.
                    self._wake_pending = False
                elif isinstance(key.data, Connection):
                    self._idle_closed(key.data)
                else:
                    key.data.on_ready()
            self._timers_fire()
            while self._inbox:
                work = self._inbox.popleft()
                try:
                    work()
                except Exception:
                    logger.exception("transport.work_failed")

    def watch(self, sock: socket.socket, events: int, handler: Any) -> None:
        """Call `handler.on_ready()` when `sock` is ready for `events`."""
        try:
            self._selector.modify(sock, events, handler)
        except KeyError:
            self._selector.register(sock, events, handler)

    def forget(self, sock: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def timer_add(self, deadline: float, owner: Any, phase: int, callback: Callable[[], None]) -> None:
        """Call `callback` at `deadline` unless `owner` has finished or moved past `phase` by then."""
        if len(self._timers) > MAX_TIMERS:  # mostly stale (finished or moved on): keep the live ones
            self._timers = [entry for entry in self._timers if not entry[2].finished and entry[2].phase == entry[3]]
            heapq.heapify(self._timers)
        heapq.heappush(self._timers, (deadline, next(self._sequence), owner, phase, callback))

    def _timers_fire(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, owner, phase, callback = heapq.heappop(self._timers)
            if not owner.finished and owner.phase == phase:
                callback()

    def in_resolver(self, key: Hashable, work: Callable[[], Any], then: Callable[[Callable[[], Any]], None]) -> None:
        """Run `work` on a resolver thread (it may block), then `then(outcome)` here, where `outcome()`
        returns what `work` returned or raises what it raised. Calls with the same `key` while one is
        under way wait for that one, so a slow name takes one thread however many requests wait on it."""
        waiting = self._lookups.get(key)
        if waiting is not None:
            waiting.append(then)
            return
        self._lookups[key] = [then]

        def job() -> None:
            try:
                value = work()
                outcome: Callable[[], Any] = lambda: value  # noqa: E731
            except Exception as error:
                outcome = partial(_raise, error)
            self.post(partial(self._looked_up, key, outcome))

        self._resolver.submit(job)

    def _looked_up(self, key: Hashable, outcome: Callable[[], Any]) -> None:
        for then in self._lookups.pop(key, []):
            try:
                then(outcome)
            except Exception:
                logger.exception("transport.work_failed")

    # --- kept-alive connections ---------------------------------------------------------------------
    def idle_take(self, key: tuple[str, str, int]) -> Connection | None:
        connections = self._idle_by_key.get(key)
        if not connections:
            return None
        connection = connections.pop()
        del self._idle[connection]
        connection.reused = True
        return connection

    def idle_put(self, connection: Connection) -> None:
        # Watched while idle: a server closing it (or writing out of turn) takes it out of the pool.
        self._selector.modify(connection.sock, selectors.EVENT_READ, connection)
        self._idle[connection] = None
        self._idle_by_key.setdefault(connection.key, []).append(connection)
        while len(self._idle) > MAX_IDLE_CONNECTIONS:
            oldest, _ = self._idle.popitem(last=False)
            self._idle_by_key[oldest.key].remove(oldest)
            self.forget(oldest.sock)
            oldest.close()

    def _idle_closed(self, connection: Connection) -> None:
        if connection in self._idle:
            del self._idle[connection]
            self._idle_by_key[connection.key].remove(connection)
        self.forget(connection.sock)
        connection.close()


def _raise(error: BaseException) -> None:
    raise error
