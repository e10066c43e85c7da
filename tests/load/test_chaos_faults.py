"""Faults of the parts around the engine, with real qcluster processes (`make chaos`): the receiver
down for a simulated hour, PostgreSQL restarted mid-delivery, Redis flushed and its connections cut.
"""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.db import connection
from django.db.models import F

from bench.harness import wait_until
from bench.scenarios import delivered_count, events_emit, id_key, profiles_create, two_clusters_delivering
from bench.servers import ScriptedReceiver, free_port
from callbacks.delivery.wake import wake_request
from callbacks.models import Attempt, Delivery

pytestmark = [pytest.mark.chaos, pytest.mark.postgres]

SIMULATED_STEP = timedelta(minutes=10)


def time_passes(by: timedelta) -> None:
    """Simulate time passing for the deliveries not in anyone's hands: their due times come closer."""
    Delivery.objects.filter(state=Delivery.State.PENDING, leased_by="").update(
        next_attempt_at=F("next_attempt_at") - by
    )
    wake_request()


def test_a_receiver_down_for_an_hour_is_not_hammered_and_gets_its_backlog_in_due_order(fleet):
    # given a profile whose receiver is down, and 200 events for it
    port = free_port()
    account, profiles = profiles_create(count=1, url_for=lambda _: f"http://127.0.0.1:{port}/hooks")
    fleet.cluster("worker")
    events_emit(account=account, count=200)
    # when an hour passes in ten-minute steps while it stays down
    time.sleep(8)
    for _ in range(6):
        time_passes(SIMULATED_STEP)
        time.sleep(3)
    # then each delivery was tried only as often as the retry schedule allows within an hour
    per_delivery = [delivery.attempt_count for delivery in Delivery.objects.filter(profile__in=profiles)]
    assert max(per_delivery) <= 5, f"attempts per delivery within the hour: up to {max(per_delivery)}"
    assert Attempt.objects.filter(delivery__profile__in=profiles).count() <= 5 * 200
    assert delivered_count(profiles) == 0
    due_order = [
        id_key(pk)
        for pk in Delivery.objects.filter(profile__in=profiles, state=Delivery.State.PENDING)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)
    ]
    assert len(due_order) == 200, "every delivery is still waiting, none given up"
    # when the receiver comes back and the next retries fall due
    with ScriptedReceiver(port=port) as receiver:
        time_passes(timedelta(hours=3))
        drained = wait_until(lambda: delivered_count(profiles) == 200, timeout_s=120, interval_s=0.5)
        profiles[0].refresh_from_db()
        assert drained, (
            f"{delivered_count(profiles)} of 200 delivered; profile {profiles[0].status} ({profiles[0].status_reason}); "
            f"states {list(Delivery.objects.filter(profile__in=profiles).values_list('state', 'next_attempt_at')[:3])}"
        )
        arrivals = {id_key(key): times[0] for key, times in receiver.stats()["arrivals"].items()}
    # then the backlog was drained in the order it fell due (rank correlation of due and arrival order;
    # requests in flight at once, up to the profile's limit, may overtake each other)
    arrival_rank = {key: rank for rank, key in enumerate(sorted(due_order, key=lambda key: arrivals[key]))}
    squared = sum((rank - arrival_rank[key]) ** 2 for rank, key in enumerate(due_order))
    spearman = 1 - 6 * squared / (len(due_order) * (len(due_order) ** 2 - 1))
    assert spearman > 0.8, f"arrival order follows due order with a rank correlation of only {spearman:.2f}"
    first_tenth, last_tenth = due_order[:20], due_order[-20:]
    assert max(arrivals[key] for key in first_tenth) <= min(arrivals[key] for key in last_tenth)


def postgres_restart() -> None:
    versions = [path.name for path in Path("/etc/postgresql").iterdir()]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "restart"], check=True, timeout=120
    )


def test_workers_recover_from_a_postgres_restart_during_delivery(fleet, slow_receiver):
    # given 1,000 deliveries being delivered to a receiver that answers after 100 ms
    _, profiles = two_clusters_delivering(fleet, slow_receiver, events=500)
    # when PostgreSQL restarts under them
    connection.close()
    postgres_restart()
    # then the same workers carry on and every delivery ends delivered, none at the same time twice
    assert wait_until(lambda: delivered_count(profiles) >= 1000, timeout_s=240, interval_s=1), (
        f"{delivered_count(profiles)} of 1000 delivered after the restart"
    )
    assert all(cluster.running for cluster in fleet.started), "a cluster died with the database restart"
    stats = slow_receiver.stats()
    assert stats["max_in_flight_same_id"] == 1
    ids = {id_key(pk) for pk in Delivery.objects.filter(profile__in=profiles).values_list("pk", flat=True)}
    assert ids <= {id_key(key) for key in stats["arrivals"]}


def test_redis_flushed_and_disconnected_loses_no_delivery(fleet_on_own_redis, own_redis, scripted_receiver):
    # given 300 events accepted while no worker runs (their wake-ups wait in the fleet's own Redis)
    fleet = fleet_on_own_redis
    account, profiles = profiles_create(count=1, url_for=lambda _: f"{scripted_receiver.url}/hooks")
    events_emit(account=account, count=300)
    # when Redis loses everything (flushed) and every connection to it is cut, as in a restart
    client = redis.Redis.from_url(own_redis.url)
    client.flushdb()
    database_number = client.connection_pool.connection_kwargs.get("db", 0)
    for entry in client.client_list():
        if int(entry.get("db", -1)) == database_number and int(entry["id"]) != client.client_id():
            client.client_kill_filter(_id=entry["id"])
    # and a cluster starts with no wake-up queued
    fleet.cluster("worker")
    # then the per-minute sweep finds every delivery in the database
    assert wait_until(lambda: delivered_count(profiles) == 300, timeout_s=150, interval_s=1), (
        f"{delivered_count(profiles)} of 300 delivered without their wake-ups"
    )
    assert scripted_receiver.stats()["max_in_flight_same_id"] == 1
