"""Stops and restarts of a real `qcluster` under a backlog (`make chaos`, tests/load/test_chaos_stops.py):
a backlog to a slow receiver, a cluster stopped or killed mid-delivery, and what the receiver and the
log say afterwards.
"""

from __future__ import annotations

import time

from bench.harness import wait_until
from bench.scenarios import delivered_count, events_emit, id_key, profiles_create

SLOW_RECEIVER_MS = 2000
# Requests in flight at once: one worker, one profile, all it claims sent at once (nothing waits).
IN_FLIGHT = 250


def backlog_in_flight(fleet, receiver, *, events: int, in_flight: int = IN_FLIGHT, name: str = "first"):
    """One cluster delivering `events` to one profile of `receiver`, `in_flight` requests at once,
    returned once a full round of them is in flight: (cluster, profiles)."""
    _, profiles = profiles_create(count=1, url_for=lambda _: f"{receiver.url}/hooks", max_in_flight=in_flight)
    account = profiles[0].account
    events_emit(account=account, count=events)
    cluster = fleet.cluster(name, CALLBACKS_DISPATCH_CONCURRENCY=str(in_flight))
    assert wait_until(lambda: receiver.stats()["total"] >= in_flight, timeout_s=60, interval_s=0.1), (
        f"only {receiver.stats()['total']} requests arrived"
    )
    return cluster, profiles


def exit_seconds(cluster, *, timeout_s: float = 60) -> float:
    """SIGTERM to the cluster's main process (as Docker or Kubernetes send it); seconds until it exited."""
    started = time.monotonic()
    cluster.terminate()
    wait_until(lambda: not cluster.running, timeout_s=timeout_s, interval_s=0.05)
    return time.monotonic() - started


def first_arrival_after(receiver, since: float, *, timeout_s: float = 30) -> float | None:
    """Seconds from `since` (time.time()) to the first request that arrived after it; None if none did."""

    def first() -> float | None:
        later = [at for times in receiver.stats()["arrivals"].values() for at in times if at > since]
        return min(later) if later else None

    wait_until(lambda: first() is not None, timeout_s=timeout_s, interval_s=0.05)
    found = first()
    return None if found is None else found - since


def log_and_receiver(profiles, receiver) -> dict:
    """What the log and the receiver say: deliveries, delivered, requests, duplicates, attempts logged."""
    from callbacks.models import Attempt, Delivery

    stats = receiver.stats()
    ids = {id_key(pk) for pk in Delivery.objects.filter(profile__in=profiles).values_list("pk", flat=True)}
    arrivals = {id_key(key): times for key, times in stats["arrivals"].items()}
    return {
        "deliveries": len(ids),
        "delivered": delivered_count(profiles),
        "requests": sum(len(times) for key, times in arrivals.items() if key in ids),
        "duplicates": sum(len(times) - 1 for key, times in arrivals.items() if key in ids and len(times) > 1),
        "never_arrived": len(ids - set(arrivals)),
        "attempts_logged": Attempt.objects.filter(delivery__profile__in=profiles).count(),
        "unknown_outcome_attempts": Attempt.objects.filter(delivery__profile__in=profiles, outcome="unknown").count(),
        "max_in_flight_same_id": stats["max_in_flight_same_id"],
    }


def restart_and_finish(
    fleet, receiver, profiles, *, events: int, timeout_s: float, in_flight: int = IN_FLIGHT
) -> tuple[float | None, dict]:
    """Start a new cluster; the seconds until it sent its first request, and `log_and_receiver` once
    all `events` are delivered (or `timeout_s` passed)."""
    restarted_at = time.time()
    fleet.cluster("second", CALLBACKS_DISPATCH_CONCURRENCY=str(in_flight))
    resumed_s = first_arrival_after(receiver, restarted_at)
    wait_until(lambda: delivered_count(profiles) == events, timeout_s=timeout_s, interval_s=0.5)
    return resumed_s, log_and_receiver(profiles, receiver)
