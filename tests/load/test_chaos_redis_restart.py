"""Redis really stopped and started again under real qcluster processes (`make chaos`): a private
redis-server (see `own_redis`) is the fleet's broker and cache, so the shared one is never touched.

Redis carries only wake-ups and the wake-up flag; it restarts empty (nothing is saved to disk). The
database is the source of truth, so nothing is lost: a dispatcher run that is going carries on, events
are still accepted, and the per-minute sweep finds what lost its wake-up.
"""

from __future__ import annotations

import time

import pytest
import requests

from bench.api_load import Gunicorn
from bench.harness import wait_until
from bench.scenarios import delivered_count, events_emit, id_key, profiles_create, two_clusters_delivering
from callbacks import event_types
from callbacks.models import Attempt, Delivery, Event
from callbacks.services.api_keys import api_key_create

pytestmark = [pytest.mark.chaos, pytest.mark.postgres]

OUTAGE_S = 12  # longer than the 10 s after which django-q2's pusher gives up and is started again


def assert_each_delivered_exactly_once(profiles, receiver) -> None:
    stats = receiver.stats()
    counts = {id_key(key): len(times) for key, times in stats["arrivals"].items()}
    ids = {id_key(pk) for pk in Delivery.objects.filter(profile__in=profiles).values_list("pk", flat=True)}
    assert ids - set(counts) == set(), "deliveries that never arrived"
    assert [key for key in ids if counts[key] > 1] == [], "deliveries that arrived twice"
    assert stats["max_in_flight_same_id"] == 1, "one delivery was attempted twice at the same time"
    assert Attempt.objects.filter(delivery__profile__in=profiles).count() == len(ids)


def test_redis_restarted_during_delivery_loses_no_delivery_and_sends_none_twice(
    fleet_on_own_redis, own_redis, slow_receiver
):
    fleet = fleet_on_own_redis
    # given 2,000 deliveries being delivered by two clusters to a receiver that answers after 100 ms
    account, profiles = two_clusters_delivering(fleet, slow_receiver, events=1000)
    # when Redis stops (its queue, wake-ups and flag gone) and stays down for a while
    own_redis.stop()
    delivered_at_stop = delivered_count(profiles)
    time.sleep(OUTAGE_S)
    delivered_in_outage = delivered_count(profiles) - delivered_at_stop
    # and starts again, empty
    own_redis.start()
    # then the same clusters carry on and every delivery ends delivered, exactly once
    assert wait_until(lambda: delivered_count(profiles) >= 2000, timeout_s=180, interval_s=1), (
        f"{delivered_count(profiles)} of 2000 delivered after the restart"
    )
    assert all(cluster.running for cluster in fleet.started), "a cluster died with the Redis restart"
    assert delivered_in_outage > 0, "the dispatcher runs going at the stop should deliver from the database"
    # and events emitted after the restart are delivered too, by the same clusters
    events_emit(account=account, count=100)
    assert wait_until(lambda: delivered_count(profiles) >= 2200, timeout_s=120, interval_s=0.5), (
        f"{delivered_count(profiles) - 2000} of 200 delivered of the events after the restart"
    )
    assert all(cluster.running for cluster in fleet.started)
    fleet.stop_all()
    assert_each_delivered_exactly_once(profiles, slow_receiver)


def test_events_posted_while_redis_is_down_are_accepted_and_delivered_once_it_is_back(
    fleet_on_own_redis, own_redis, scripted_receiver
):
    fleet = fleet_on_own_redis
    # given a cluster and the events API (gunicorn, production settings) on the same Redis, and an API key
    account, profiles = profiles_create(count=2, url_for=lambda index: f"{scripted_receiver.url}/p{index}")
    _, key = api_key_create(account=account, name="producer")
    fleet.cluster("worker")
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {key}"
    with Gunicorn(fleet.environment, fleet.workdir / "gunicorn.log") as web:
        events_url = f"http://127.0.0.1:{web.port}/api/v1/events/"
        body = {"type": event_types.MESSAGE_STATUS, "data": {"message_id": "m-warm-up"}}
        assert session.post(events_url, json=body, timeout=30).status_code == 202
        assert wait_until(lambda: delivered_count(profiles) == 2, timeout_s=30)
        # when Redis is down while a producer posts 200 events
        own_redis.stop()
        statuses = []
        for number in range(200):
            body = {"type": event_types.MESSAGE_STATUS, "data": {"message_id": f"m-{number}"}}
            statuses.append(session.post(events_url, json=body, timeout=30).status_code)
        # then every one is accepted and stored with its deliveries
        assert statuses == [202] * 200, f"answers while Redis was down: {sorted(set(statuses))}"
        assert Event.objects.filter(account=account).count() == 201
        assert Delivery.objects.filter(profile__in=profiles).count() == 402
        time.sleep(max(0.0, OUTAGE_S - 2))
        assert fleet.started[0].running, "the cluster died while Redis was down"
        # when Redis starts again, empty: the events' wake-ups are gone
        own_redis.start()
        # then the sweep finds their deliveries and every one ends delivered, exactly once
        assert wait_until(lambda: delivered_count(profiles) == 402, timeout_s=150, interval_s=1), (
            f"{delivered_count(profiles)} of 402 delivered after Redis came back"
        )
        assert fleet.started[0].running, "the cluster died with the Redis restart"
    fleet.stop_all()
    assert_each_delivered_exactly_once(profiles, scripted_receiver)
    # and the web processes logged the failed wake-ups instead of failing the requests
    web_log = (fleet.workdir / "gunicorn.log").read_text(errors="replace")
    assert "dispatch.wake_flag_failed" in web_log
    assert "Internal Server Error" not in web_log
