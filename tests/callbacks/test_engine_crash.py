"""A worker killed with SIGKILL in the middle of a batch loses nothing: after its lease ends, every
delivery is delivered, and only those it had in flight are sent a second time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.callbacks.engine_helpers import worker_run
from tests.receivers import Reply

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 60
CONCURRENCY = 8
LEASE_S = 120


def _environment(database_url: str) -> dict:
    environment = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL",)}
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings_test",
        DATABASE_URL=database_url,
        CALLBACKS_DISPATCH_CONCURRENCY=str(CONCURRENCY),
        CALLBACKS_DISPATCH_BATCH_SIZE=str(CONCURRENCY),
        CALLBACKS_LEASE_S=str(LEASE_S),
        LOG_LEVEL="WARNING",
    )
    return environment


def _run(environment: dict, *arguments: str) -> dict:
    return worker_run("tests.callbacks.crash_worker", environment, *arguments)


def _crash_and_recover(receiver, database_url: str) -> None:
    environment = _environment(database_url)
    _run(environment, "setup", receiver.url("/hooks"), str(EVENTS))

    # given a worker sending to a receiver that answers after 0.3 s, 8 requests at a time
    receiver.respond_with(Reply(delay_s=0.3))
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.callbacks.crash_worker", "work"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    # when it is killed mid-batch, with requests in flight
    try:
        receiver.wait_for(2 * CONCURRENCY + 3, timeout_s=60)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    receiver.respond_with(Reply())
    at_kill = _run(environment, "states")
    leased = {pk for pk, (state, leased_by) in at_kill.items() if state == "pending" and leased_by}
    sent_before = Counter(request.header("webhook-id") for request in receiver.requests)
    assert leased & set(sent_before), "the kill should catch requests in flight"

    # then a new worker delivers the rest at once but leaves the leased ones alone until the lease ends
    _run(environment, "work")
    after_restart = _run(environment, "states")
    assert {pk for pk, (state, _) in after_restart.items() if state == "pending"} == leased
    assert Counter(request.header("webhook-id") for request in receiver.requests).most_common(1)[0][1] == 1

    # and once the lease has ended, they are delivered too
    _run(environment, "work", "--after-lease")
    final = _run(environment, "states")
    assert {state for state, _ in final.values()} == {"delivered"} and len(final) == EVENTS

    # and every delivery reached the receiver, at most twice: a second time only if it was in flight
    sends = Counter(request.header("webhook-id") for request in receiver.requests)
    assert set(sends) == set(final)
    assert max(sends.values()) <= 2
    assert {pk for pk, count in sends.items() if count == 2} <= leased & set(sent_before)


def test_a_worker_killed_mid_batch_loses_nothing(receiver, workers_database_url):
    _crash_and_recover(receiver, workers_database_url)
