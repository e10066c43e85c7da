"""The delivery engine end to end: events in, requests at a real receiver, outcomes recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callbacks import clock, event_types
from callbacks.delivery.engine import dispatch_batch, dispatch_run
from callbacks.models import Attempt, CallbackProfile, Delivery, DeliveryStats
from callbacks.services.events import event_emit
from tests.factories import CallbackProfileFactory
from tests.receivers import Reply

pytestmark = pytest.mark.django_db


def _profile(account, receiver, *codes, **fields) -> CallbackProfile:
    profile = CallbackProfileFactory(account=account, url=receiver.url("/hooks"), **fields)
    profile.event_types.set(codes or [event_types.MESSAGE_STATUS])
    return profile


def test_an_event_reaches_the_receiver_signed_and_is_recorded_delivered(account, receiver):
    # given a subscribed profile pointing at a receiver
    profile = _profile(account, receiver)
    event = event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"status": "delivered"})

    # when the dispatcher runs a batch
    processed = dispatch_batch(worker_id="test")

    # then the receiver got the standard envelope with the webhook headers
    assert processed == 1
    [request] = receiver.wait_for(1)
    delivery = Delivery.objects.get(event=event)
    assert request.method == "POST"
    assert request.json()["data"] == {"status": "delivered"}
    assert request.json()["id"] == str(event.pk)
    assert request.header("webhook-id") == str(delivery.pk)
    assert request.header("webhook-signature").startswith("v1,")
    # and the delivery, its attempt and the rollup say so
    assert delivery.state == Delivery.State.DELIVERED and delivery.attempt_count == 1
    attempt = Attempt.objects.get(delivery=delivery)
    assert attempt.response_status == 200 and attempt.outcome == "delivered"
    assert attempt.request_headers["webhook-signature"] == "[redacted]"
    stats = DeliveryStats.objects.get(profile=profile)
    assert (stats.delivered, stats.attempts, stats.failed) == (1, 1, 0)


def test_a_500_is_retried_on_schedule_and_then_delivered(account, receiver):
    # given a profile whose receiver fails once, ten minutes into an hour (the retry falls in the same
    # hour's rollup, whenever the test runs)
    now = clock.now()
    ten_past_next_hour = now.replace(minute=10, second=0, microsecond=0) + timedelta(hours=1)
    clock.advance(seconds=(ten_past_next_hour - now).total_seconds())
    profile = _profile(account, receiver, retry_schedule_s=[60, 300])
    receiver.respond_next(Reply(status=500))
    event = event_emit(account=account, type=event_types.MESSAGE_STATUS, data={})

    # when the first attempt fails
    dispatch_batch(worker_id="test")
    delivery = Delivery.objects.get(event=event)
    assert delivery.state == Delivery.State.PENDING and delivery.last_status_code == 500
    # then nothing is due before the retry time
    assert dispatch_batch(worker_id="test") == 0
    clock.advance(seconds=66.1)
    assert dispatch_batch(worker_id="test") == 1
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED and delivery.attempt_count == 2
    assert [a.outcome for a in Attempt.objects.filter(delivery=delivery).order_by("number")] == ["retry", "delivered"]
    stats = DeliveryStats.objects.get(profile=profile)
    assert (stats.delivered, stats.attempts, stats.failed_attempts, stats.failures_by_class) == (
        1,
        2,
        1,
        {"http_500": 1},
    )


def test_dispatch_run_delivers_a_fan_out_and_stops_when_idle(account, receiver_factory):
    receivers = [receiver_factory() for _ in range(3)]
    for receiver in receivers:
        _profile(account, receiver)
    for number in range(50):
        event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"n": number})
    result = dispatch_run(worker_id="test", linger_s=0)
    assert result.processed == 150 and not result.budget_spent
    for receiver in receivers:
        assert len(receiver.wait_for(50)) == 50
    assert Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == 150
