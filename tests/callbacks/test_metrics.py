"""`/metrics`: scraped around a delivery run and parsed with prometheus-client's parser, its counters
agree with the database; without the bearer token there is nothing to see. (tests/load scrapes while a
real qcluster delivers.)"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from callbacks import clock, event_types
from callbacks.delivery.engine import dispatch_run
from callbacks.models import Attempt, CallbackProfile, Delivery, Event
from tests import metrics_helpers
from tests.callbacks.engine_helpers import emit, profile_for
from tests.receivers import Reply

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-token-for-tests"
EVENTS = "/api/v1/events/"


def scrape() -> dict[tuple[str, tuple], float]:
    return metrics_helpers.scrape(TOKEN)


value = metrics_helpers.sample


def grown(before: dict, after: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_metrics_are_404_without_a_token_configured_and_401_without_the_right_one(settings, client):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_a_scrape_after_a_delivery_run_agrees_with_the_database(settings, account, api, receiver_factory):
    # given a receiver that answers after 0.2 s and one that refuses everything with 400
    settings.METRICS_TOKEN = TOKEN
    slow, refusing = receiver_factory(), receiver_factory()
    slow.respond_with(Reply(delay_s=0.2))
    refusing.respond_with(Reply(status=400))
    profile_for(account, slow, max_in_flight=4)
    profile_for(account, refusing)
    disabled = profile_for(account, None, url="https://example.com/hooks")
    CallbackProfile.objects.filter(pk=disabled.pk).update(status=CallbackProfile.Status.DISABLED)
    before = scrape()
    # and 12 events posted through the API, and 2 refused
    for number in range(12):
        response = api.post(EVENTS, {"type": event_types.MESSAGE_STATUS, "data": {"n": number}}, format="json")
        assert response.status_code == 202
    assert api.post(EVENTS, {"type": "no.such.type", "data": {}}, format="json").status_code == 400
    assert api.post(EVENTS, {"type": event_types.MESSAGE_STATUS, "data": []}, format="json").status_code == 400

    # then the backlog is there
    assert value(scrape(), "callbacks_due_deliveries") == 24

    # when the dispatcher runs
    dispatch_run(worker_id="metrics", budget_s=60, linger_s=0)
    after = scrape()

    # then every counter agrees with the database
    assert grown(before, after, "callbacks_events_accepted_total") == Event.objects.count() == 12
    assert grown(before, after, "callbacks_events_refused_total", status="400") == 2
    delivered = Delivery.objects.filter(state=Delivery.State.DELIVERED).count()
    failed = Delivery.objects.filter(state=Delivery.State.FAILED).count()
    assert (delivered, failed) == (12, 12)
    assert grown(before, after, "callbacks_deliveries_finished_total", outcome="delivered") == delivered
    assert grown(before, after, "callbacks_deliveries_finished_total", outcome="failed") == failed
    assert grown(before, after, "callbacks_attempt_duration_seconds_count", outcome="delivered") == 12
    assert grown(before, after, "callbacks_attempt_duration_seconds_count", outcome="failed") == 12
    assert Attempt.objects.count() == 24
    # and the slow answers fell in the histogram's buckets above 0.1 s
    assert grown(before, after, "callbacks_attempt_duration_seconds_bucket", outcome="delivered", le="0.1") == 0
    assert grown(before, after, "callbacks_attempt_duration_seconds_bucket", outcome="delivered", le="1.0") == 12
    # and the gauges read from the database say what it holds now
    assert value(after, "callbacks_due_deliveries") == 0
    assert value(after, "callbacks_due_oldest_age_seconds") == 0
    assert value(after, "callbacks_profiles", state="failing") == 1
    assert value(after, "callbacks_profiles", state="enabled") == 1
    assert value(after, "callbacks_profiles", state="disabled") == 1
    assert value(after, "callbacks_profiles", state="abnormal") == 0


def test_the_oldest_due_delivery_gives_the_backlog_its_age(settings, account):
    # given a delivery due for 90 s that no worker took
    settings.METRICS_TOKEN = TOKEN
    profile_for(account, None, url="https://example.com/hooks")
    emit(account, {"n": 1})
    Delivery.objects.update(next_attempt_at=clock.now() - timedelta(seconds=90))

    # when scraped, then the backlog is one delivery, due for about 90 s
    samples = scrape()
    assert value(samples, "callbacks_due_deliveries") == 1
    assert 90 <= value(samples, "callbacks_due_oldest_age_seconds") < 120


def test_a_batch_counts_its_accepted_and_refused_items(settings, account, api):
    # given a subscribed profile
    settings.METRICS_TOKEN = TOKEN
    profile_for(account, None, url="https://example.com/hooks")
    before = scrape()

    # when a batch of three events, one of them bad, is posted, and a batch that is not a list
    items = [{"type": event_types.MESSAGE_STATUS, "data": {"n": number}} for number in range(2)]
    items.append({"type": "no.such.type", "data": {}})
    assert api.post(f"{EVENTS}batch/", {"events": items}, format="json").status_code == 207
    assert api.post(f"{EVENTS}batch/", {"events": "not a list"}, format="json").status_code == 400

    # then the two stored events are counted accepted, the bad item and the bad batch refused
    after = scrape()
    assert grown(before, after, "callbacks_events_accepted_total") == Event.objects.count() == 2
    assert grown(before, after, "callbacks_events_refused_total", status="item") == 1
    assert grown(before, after, "callbacks_events_refused_total", status="400") == 1


def _process_counting(*, events: int, attempts: int, stay: bool = False) -> subprocess.Popen:
    """Another process of this machine (a recycled worker, say) that counts events and attempts into the
    shared folder, then ends, or stays until it is told to end (stdin closed)."""
    code = (
        "import sys; from callbacks import metrics\n"
        f"metrics.events_accepted.inc({events})\n"
        f"for _ in range({attempts}): metrics.attempt_duration.labels(outcome='delivered').observe(0.2)\n"
        "print('counted', flush=True)\n" + ("sys.stdin.read()\n" if stay else "")
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": settings.PROMETHEUS_MULTIPROC_DIR},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "counted\n"
    return process


def _files_of(pid: int) -> list[Path]:
    return sorted(Path(settings.PROMETHEUS_MULTIPROC_DIR).glob(f"*_{pid}.db"))


def test_the_files_of_ended_processes_are_folded_into_one_and_the_counts_kept(settings):
    # given the counts of this process, of one that stays and of two that ended (recycled workers)
    settings.METRICS_TOKEN = TOKEN
    before = scrape()
    staying = _process_counting(events=7, attempts=1, stay=True)
    ended = [_process_counting(events=3, attempts=2), _process_counting(events=4, attempts=5)]
    for process in ended:
        process.wait(10)
    assert all(_files_of(process.pid) for process in ended)

    # when /metrics is scraped
    first = scrape()

    # then every process's counts are in it
    assert grown(before, first, "callbacks_events_accepted_total") == 14
    assert grown(before, first, "callbacks_attempt_duration_seconds_count", outcome="delivered") == 8
    assert grown(before, first, "callbacks_attempt_duration_seconds_bucket", outcome="delivered", le="0.25") == 8
    # and the ended processes' files are gone, the staying one's kept: the folder stops growing
    assert [_files_of(process.pid) for process in ended] == [[], []]
    assert _files_of(staying.pid)

    # when the staying one ends too and another scrape comes, nothing is counted twice or lost
    staying.stdin.close()
    staying.wait(10)
    second = scrape()
    assert second == first
    assert _files_of(staying.pid) == []
    assert scrape() == first
