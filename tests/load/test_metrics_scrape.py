"""`/metrics` scraped while a real qcluster delivers (PostgreSQL and Redis): the counts its processes
wrote add up with this one's, and agree with the database."""

from __future__ import annotations

import pytest

from bench.harness import wait_until
from bench.scenarios import delivered_count, events_emit, profiles_create
from bench.servers import ScriptedReceiver
from callbacks.models import Attempt, Delivery, Event
from tests import metrics_helpers
from tests.metrics_helpers import sample

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOKEN = "metrics-token-for-the-fleet"
EVENTS = 300


def scrape() -> dict[tuple[str, tuple], float]:
    return metrics_helpers.scrape(TOKEN)


def test_a_scrape_while_a_cluster_delivers_adds_up_its_processes_and_agrees_with_the_database(fleet, settings):
    # given a receiver answering after 100 ms, 300 events for it, and a cluster (its metric files beside ours)
    settings.METRICS_TOKEN = TOKEN
    before = scrape()
    with ScriptedReceiver(default_delay_ms=100) as receiver:
        account, profiles = profiles_create(count=1, url_for=lambda _: f"{receiver.url}/hooks", max_in_flight=10)
        events_emit(account=account, count=EVENTS)
        fleet.cluster("worker")

        # when it is scraped while the cluster delivers
        assert wait_until(lambda: receiver.stats()["total"] >= 20, timeout_s=60, interval_s=0.05)
        during = scrape()
        assert wait_until(lambda: delivered_count(profiles) == EVENTS, timeout_s=120, interval_s=0.25)
        # (the cluster writes its counts once a flush has committed: wait for the last one to show)
        assert wait_until(
            lambda: (
                sample(scrape(), "callbacks_deliveries_finished_total", outcome="delivered")
                - sample(before, "callbacks_deliveries_finished_total", outcome="delivered")
                >= EVENTS
            ),
            timeout_s=10,
        )
        after = scrape()

    # then mid-run part of the work was done and part was still to do
    finished_during = sample(during, "callbacks_deliveries_finished_total", outcome="delivered") - sample(
        before, "callbacks_deliveries_finished_total", outcome="delivered"
    )
    assert finished_during < EVENTS
    assert sample(during, "callbacks_due_deliveries") <= EVENTS

    # and afterwards the counters of both processes agree with the database
    def grown(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grown("callbacks_events_accepted_total") == Event.objects.count() == EVENTS
    assert grown("callbacks_deliveries_finished_total", outcome="delivered") == EVENTS
    assert grown("callbacks_attempt_duration_seconds_count", outcome="delivered") == Attempt.objects.count() == EVENTS
    assert grown("callbacks_attempt_duration_seconds_bucket", outcome="delivered", le="0.05") == 0
    assert sample(after, "callbacks_due_deliveries") == 0
    assert Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == EVENTS
    assert sample(after, "callbacks_profiles", state="enabled") == 1
