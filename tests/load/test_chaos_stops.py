"""Stops and restarts an orchestrator can live with (`make chaos`, PostgreSQL and Redis, real qcluster
processes): a SIGTERM ends a cluster within its grace with nothing sent twice or lost, a cluster that
starts after a SIGKILL sends again at once, and the log counts every request the receiver saw.
"""

from __future__ import annotations

import json

import pytest

from bench.servers import ScriptedReceiver
from bench.stops import SLOW_RECEIVER_MS, backlog_in_flight, exit_seconds, log_and_receiver, restart_and_finish

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EVENTS = 2000
STOP_LIMIT_S = 12  # a 10 s grace (CALLBACKS_STOP_GRACE_S) and the cluster's own shutdown
RESTART_LIMIT_S = 5


@pytest.fixture
def two_second_receiver():
    with ScriptedReceiver(default_delay_ms=SLOW_RECEIVER_MS) as running:
        yield running


@pytest.mark.parametrize(
    ("events", "in_flight", "restart_limit_s"),
    [
        pytest.param(EVENTS, 250, RESTART_LIMIT_S, marks=pytest.mark.chaos, id="target"),
        # In `make test`: how soon a restarted cluster sends depends on the machine's load, not checked here.
        pytest.param(60, 30, None, id="small"),
    ],
)
def test_a_sigterm_stops_a_cluster_within_the_grace_with_nothing_sent_twice_or_lost(
    fleet, two_second_receiver, events, in_flight, restart_limit_s
):
    # given a cluster delivering queued deliveries to a receiver that answers after 2 s
    cluster, profiles = backlog_in_flight(fleet, two_second_receiver, events=events, in_flight=in_flight)

    # when it gets SIGTERM with a full round of requests in flight
    seconds = exit_seconds(cluster)
    at_exit = log_and_receiver(profiles, two_second_receiver)

    # then it exits within the grace, every request it sent answered and logged
    assert seconds <= STOP_LIMIT_S, f"the cluster took {seconds:.1f} s to exit"
    assert at_exit["attempts_logged"] == at_exit["requests"] == at_exit["delivered"]
    # and a cluster started after it sends the rest at once
    resumed_s, final = restart_and_finish(
        fleet, two_second_receiver, profiles, events=events, timeout_s=120, in_flight=in_flight
    )
    assert resumed_s is not None and resumed_s <= (restart_limit_s or 60), f"sent again after {resumed_s} s"
    print(json.dumps({"sigterm_exit_s": round(seconds, 2), "resumed_s": round(resumed_s, 2), **final}))
    # and nothing was sent twice, nothing lost, and the log counts what the receiver saw
    assert final["delivered"] == final["deliveries"] == events
    assert final["duplicates"] == 0 and final["never_arrived"] == 0
    assert final["attempts_logged"] == final["requests"] == events


@pytest.mark.chaos
def test_a_cluster_started_after_a_sigkill_sends_again_at_once_and_the_log_counts_every_send(
    fleet, two_second_receiver
):
    # given a cluster delivering 2,000 queued deliveries to a receiver that answers after 2 s
    cluster, profiles = backlog_in_flight(fleet, two_second_receiver, events=EVENTS)

    # when it is killed with requests in flight, and a new cluster starts
    cluster.kill()
    resumed_s, final = restart_and_finish(fleet, two_second_receiver, profiles, events=EVENTS, timeout_s=180)

    # then the new cluster sends again within 5 s (the killed one's wake-up flag does not hold it back)
    assert resumed_s is not None and resumed_s <= RESTART_LIMIT_S, f"sent again after {resumed_s} s"
    # and once the killed cluster's leases ran out, everything is delivered
    assert final["delivered"] == EVENTS
    print(json.dumps({"resumed_s": round(resumed_s, 2), **final}))
    assert final["never_arrived"] == 0 and final["max_in_flight_same_id"] == 1
    # and the log has an attempt for every request the receiver saw, the lost answers as unknown outcomes
    assert final["attempts_logged"] == final["requests"]
    assert final["unknown_outcome_attempts"] == final["duplicates"] > 0
