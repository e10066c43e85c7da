"""The sender threads: each takes a rendered request, sends it, and hands the result back.

Started as needed, up to the dispatcher's concurrency, once per process (django-q2 forks workers).
"""

from __future__ import annotations

import os
import queue
import threading
import time

from callbacks.recording import Job
from callbacks.rendering import RenderedRequest
from callbacks.transport import TransportResult, request_send


class Senders:
    """Daemon threads that send requests and hand results back; started as needed, one set per process."""

    def __init__(self) -> None:
        self._reset()
        # Threads do not survive a fork (django-q2 forks its workers): a child starts its own.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def submit(self, job: Job, request: RenderedRequest, results: queue.SimpleQueue, *, wanted_threads: int) -> None:
        if len(self._threads) < wanted_threads:
            with self._lock:
                while len(self._threads) < wanted_threads:
                    thread = threading.Thread(target=self._loop, name="callback-sender", daemon=True)
                    thread.start()
                    self._threads.append(thread)
        self._jobs.put((job, request, results))

    def _loop(self) -> None:
        while True:
            job, request, results = self._jobs.get()
            snapshot = job.snapshot
            try:
                result = request_send(
                    request,
                    connect_timeout_s=snapshot.connect_timeout_s,
                    response_timeout_s=snapshot.response_timeout_s,
                )
            except Exception as error:  # request_send does not raise; this keeps the thread alive regardless
                result = TransportResult(
                    started_at=time.time(), error_class="transport_error", error_detail=repr(error)
                )
            results.put((job, request, result))


senders = Senders()
