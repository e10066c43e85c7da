"""Several qcluster processes on one PostgreSQL: every delivery delivered, none attempted twice at the
same time, and a worker killed with SIGKILL mid-batch loses nothing. Small here; `make chaos` runs
the 50,000-delivery version."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from bench.bulk import deliveries_insert
from bench.harness import wait_until
from bench.scenarios import delivered_count, events_emit, id_key, profiles_create
from callbacks import event_types
from callbacks.delivery.wake import wake_request
from callbacks.models import Attempt, Delivery

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def receiver_counts(receiver) -> tuple[dict[str, int], dict]:
    stats = receiver.stats()
    return {id_key(key): len(times) for key, times in stats["arrivals"].items()}, stats


def assert_each_delivered_once(profiles, receiver, expected: int) -> None:
    counts, stats = receiver_counts(receiver)
    ids = {id_key(pk) for pk in Delivery.objects.filter(profile__in=profiles).values_list("pk", flat=True)}
    assert len(ids) == expected
    # every delivery arrived, none twice, never two requests of one delivery at the same time
    assert ids - set(counts) == set()
    assert [key for key in ids if counts[key] > 1] == []
    assert stats["max_in_flight_same_id"] == 1
    assert Attempt.objects.filter(delivery__profile__in=profiles).count() == expected


def fleet_delivers_everything(fleet, receiver, *, events: int, clusters: int, bulk: bool, timeout_s: float) -> None:
    # given `events` deliveries due to one profile per 4 receivers' paths
    account, profiles = profiles_create(count=4, url_for=lambda index: f"{receiver.url}/p{index}")
    if bulk:
        for index, profile in enumerate(profiles):
            deliveries_insert(
                profile=profile, start=index * 10**7 + 1, count=events // 4, event_type=event_types.MESSAGE_STATUS
            )
        wake_request()
    # when several qcluster processes run at once
    for index in range(clusters):
        fleet.cluster(f"worker-{index}")
    if not bulk:
        events_emit(account=account, count=events // 4)
    # then every delivery is delivered exactly once
    expected = events if bulk else (events // 4) * 4
    assert wait_until(lambda: delivered_count(profiles) >= expected, timeout_s=timeout_s, interval_s=0.5), (
        f"{delivered_count(profiles)} of {expected} delivered within {timeout_s} s"
    )
    fleet.stop_all()
    assert_each_delivered_once(profiles, receiver, expected)


def test_three_clusters_deliver_every_delivery_once(fleet, scripted_receiver):
    fleet_delivers_everything(fleet, scripted_receiver, events=2000, clusters=3, bulk=False, timeout_s=120)


@pytest.mark.chaos
def test_three_clusters_deliver_50000_deliveries_once(fleet, scripted_receiver):
    fleet_delivers_everything(fleet, scripted_receiver, events=50_000, clusters=3, bulk=True, timeout_s=600)


def leased_ids() -> set[str]:
    return {
        id_key(pk)
        for pk in Delivery.objects.filter(state=Delivery.State.PENDING)
        .exclude(leased_by="")
        .values_list("pk", flat=True)
    }


def test_a_worker_killed_mid_batch_loses_nothing(fleet, slow_receiver):
    # given 1,000 deliveries to a receiver answering after 100 ms, and a cluster delivering them
    account, profiles = profiles_create(count=2, url_for=lambda index: f"{slow_receiver.url}/p{index}")
    doomed = fleet.cluster("doomed")
    events_emit(account=account, count=500)
    assert wait_until(lambda: slow_receiver.stats()["total"] >= 150, timeout_s=60)
    # when every process of the cluster is killed with SIGKILL in the middle of its batches
    doomed.kill()
    in_flight = leased_ids()
    delivered_before = delivered_count(profiles)
    assert in_flight, "the kill should have caught leased deliveries in flight"
    assert delivered_before < 1000
    # and another cluster takes over once the killed one's leases have ended
    lease_end = max(Delivery.objects.exclude(leased_by="").values_list("lease_expires_at", flat=True))
    time.sleep(max(0.0, (lease_end - timezone.now()).total_seconds()) + 0.5)
    fleet.cluster("successor")
    wake_request()
    # then every delivery ends delivered
    assert wait_until(lambda: delivered_count(profiles) >= 1000, timeout_s=180, interval_s=0.5), (
        f"{delivered_count(profiles)} of 1000 delivered"
    )
    fleet.stop_all()
    # and only deliveries that were in flight at the kill may have arrived twice, never at once
    counts, stats = receiver_counts(slow_receiver)
    ids = {id_key(pk) for pk in Delivery.objects.filter(profile__in=profiles).values_list("pk", flat=True)}
    assert ids - set(counts) == set(), "deliveries that never arrived"
    twice = {key for key in ids if counts[key] > 1}
    assert twice <= in_flight, f"{len(twice - in_flight)} arrived twice without being in flight at the kill"
    assert stats["max_in_flight_same_id"] == 1, "one delivery was attempted twice at the same time"
