"""The dispatcher's wake-up when its cache or the django-q2 broker is down (a Redis outage): events are
still accepted and stored, the failure is logged, and the sweep delivers what the wake-up missed."""

from __future__ import annotations

import logging
import socket

import pytest
from django_q.conf import Conf

from callbacks import event_types, tasks
from callbacks.delivery import wake
from callbacks.models import Delivery, Event
from tests.callbacks.engine_helpers import emit, profile_for

EVENTS = "/api/v1/events/"


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on: connections to it are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def cache_down(settings, closed_port):
    """The default cache (which holds the wake-up flag) is a Redis that is not running."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        }
    }


@pytest.fixture
def broker_down(monkeypatch, closed_port):
    """django-q2 queues through a Redis broker that is not running (the cache stays up)."""
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{closed_port}/0")


def wakeup_warnings(caplog) -> list[str]:
    return [record.message for record in caplog.records if record.message.startswith("dispatch.wake_")]


def test_an_event_posted_while_redis_is_down_is_accepted_and_delivered_by_the_sweep(
    transactional_db, account, api, receiver, cache_down, caplog, settings
):
    # given a subscribed profile, and the cache holding the wake-up flag down
    settings.CALLBACKS_DISPATCH_LINGER_S = 0
    profile_for(account, receiver)
    caplog.set_level(logging.WARNING, logger="callbacks.tasks")

    # when a producer posts an event (the transaction commits and its on-commit wake-up runs in the request)
    response = api.post(EVENTS, {"type": event_types.MESSAGE_STATUS, "data": {"n": 1}}, format="json")

    # then it is accepted and stored with its delivery, and the failed wake-up is logged
    assert response.status_code == 202, response.content
    event = Event.objects.get(pk=response.json()["id"])
    assert Delivery.objects.get(event=event).state == Delivery.State.PENDING
    assert wakeup_warnings(caplog) == ["dispatch.wake_flag_failed"]

    # and the per-minute sweep delivers it without any wake-up
    assert tasks.dispatch_sweep() == 1
    assert Delivery.objects.get(event=event).state == Delivery.State.DELIVERED
    assert len(receiver.wait_for(1)) == 1


@pytest.mark.django_db
def test_a_store_that_is_down_is_tried_once_per_pause_not_once_per_event(cache_down, caplog):
    # given the cache down
    caplog.set_level(logging.WARNING, logger="callbacks.tasks")

    # when a burst of events asks for wake-ups
    woken = [wake.wake_request() for _ in range(50)]

    # then none is queued, and the store was tried (and the failure logged) once, not fifty times
    assert woken == [False] * 50
    assert wakeup_warnings(caplog) == ["dispatch.wake_flag_failed"]


@pytest.mark.django_db
def test_a_broker_that_is_down_clears_the_flag_so_a_later_wakeup_can_queue(broker_down, caplog, settings):
    # given the broker down and the cache up
    caplog.set_level(logging.WARNING, logger="callbacks.tasks")

    # when a wake-up is asked for
    woken = wake.wake_request()

    # then nothing is queued, the failure is logged, and the flag is not left set
    assert woken is False
    assert wakeup_warnings(caplog) == ["dispatch.wake_enqueue_failed"]
    assert wake._cache().get(wake.WAKE_QUEUED_KEY) is None


@pytest.mark.django_db
def test_the_wakeup_task_delivers_while_its_cache_is_down(account, receiver, cache_down, settings):
    # given a delivery due, and the cache holding the wake-up flag down
    settings.CALLBACKS_DISPATCH_LINGER_S = 0
    profile_for(account, receiver)
    event = emit(account)

    # when a wake-up task taken from the queue before the outage runs
    processed = tasks.dispatch_on_wake()

    # then it still delivers (clearing the flag failed, and the flag ends with its TTL)
    assert processed == 1
    assert Delivery.objects.get(event=event).state == Delivery.State.DELIVERED
