"""Ingesting events with event_emit: validation, the outbox, idempotency and the coalesced wake-up."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django_q.brokers import get_broker

from callbacks import clock, event_types, signals
from callbacks.models import CallbackProfile, Delivery, Event
from callbacks.services.events import MAX_PAYLOAD_BYTES, PayloadTooLarge, event_emit, events_emit
from tests.callbacks.engine_helpers import profile_for


def test_event_emit_stores_one_pending_delivery_per_enabled_subscribed_profile(account, other_account):
    # given two subscribed profiles, one abnormal, one disabled, one unsubscribed, one of another account
    first = profile_for(account, None, event_types.MESSAGE_STATUS)
    second = profile_for(account, None, event_types.MESSAGE_STATUS, event_types.OTP_SENT)
    abnormal = profile_for(account, None, event_types.MESSAGE_STATUS, status=CallbackProfile.Status.ABNORMAL)
    profile_for(account, None, event_types.MESSAGE_STATUS, status=CallbackProfile.Status.DISABLED)
    profile_for(account, None, event_types.OTP_SENT)
    profile_for(other_account, None, event_types.MESSAGE_STATUS)

    # when an event is emitted
    event = event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"status": "delivered"})

    # then enabled profiles get pending deliveries and the abnormal one a held delivery
    deliveries = {row.profile_id: row for row in Delivery.objects.filter(event=event)}
    assert set(deliveries) == {first.pk, second.pk, abnormal.pk}
    assert deliveries[first.pk].state == Delivery.State.PENDING
    assert deliveries[abnormal.pk].state == Delivery.State.HELD
    assert all(row.event_type == event_types.MESSAGE_STATUS for row in deliveries.values())
    assert Event.objects.get(pk=event.pk).payload == {"status": "delivered"}


@pytest.mark.parametrize(
    ("type", "data", "field"),
    [
        ("no.such_type", {}, "type"),
        (event_types.MESSAGE_STATUS, ["not", "an", "object"], "data"),
        (event_types.MESSAGE_STATUS, "text", "data"),
    ],
)
def test_event_emit_refuses_unknown_types_and_non_objects(account, type, data, field):
    with pytest.raises(ValidationError) as raised:
        event_emit(account=account, type=type, data=data)
    assert field in raised.value.message_dict
    assert not Event.objects.exists()


def test_event_emit_refuses_payloads_over_256_kib_and_stores_nothing(account):
    # given a subscribed profile and data just over the limit once encoded
    profile_for(account, None, event_types.MESSAGE_STATUS)
    data = {"blob": "x" * (MAX_PAYLOAD_BYTES - len('{"blob":""}') + 1)}

    # then it is refused as too large and nothing is stored
    with pytest.raises(PayloadTooLarge):
        event_emit(account=account, type=event_types.MESSAGE_STATUS, data=data)
    assert not Event.objects.exists()
    assert not Delivery.objects.exists()

    # and exactly the limit is accepted
    data["blob"] = data["blob"][:-1]
    assert event_emit(account=account, type=event_types.MESSAGE_STATUS, data=data).pk


def test_the_same_idempotency_key_within_24_hours_returns_the_first_event(account, other_account):
    # given an event stored under a key
    profile_for(account, None, event_types.OTP_SENT)
    first = event_emit(account=account, type=event_types.OTP_SENT, data={"n": 1}, idempotency_key="order-1")

    # when the same event comes again under the key within 24 hours
    clock.advance(seconds=23 * 3600)
    again = event_emit(account=account, type=event_types.OTP_SENT, data={"n": 1}, idempotency_key="order-1")

    # then the first event answers and nothing new is stored
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert Event.objects.count() == 1 and Delivery.objects.count() == 1

    # and another account's identical key is its own
    other = event_emit(account=other_account, type=event_types.OTP_SENT, data={}, idempotency_key="order-1")
    assert other.pk != first.pk

    # and after 24 hours the key makes a new event
    clock.advance(seconds=2 * 3600)
    later = event_emit(account=account, type=event_types.OTP_SENT, data={"n": 3}, idempotency_key="order-1")
    assert later.pk != first.pk and not later.replayed
    assert Delivery.objects.filter(event=later).count() == 1


def test_a_burst_of_events_queues_at_most_one_wakeup_and_announces_each_event(
    account, django_capture_on_commit_callbacks
):
    # given a subscribed profile, an empty task queue and a listener of event_received
    profile_for(account, None, event_types.MESSAGE_STATUS)
    broker = get_broker()
    broker.purge_queue()
    received = []

    def listener(sender, event, **kwargs):
        received.append(event.pk)

    signals.event_received.connect(listener)
    try:
        # when 30 events are emitted in a burst, each committing on its own
        emitted = []
        for number in range(30):
            with django_capture_on_commit_callbacks(execute=True):
                emitted.append(event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"n": number}).pk)
    finally:
        signals.event_received.disconnect(listener)

    # then each event was announced after commit, and one wake-up task waits in the queue
    assert received == emitted
    assert broker.queue_size() == 1
    broker.purge_queue()


def test_an_event_in_a_transaction_that_rolls_back_leaves_nothing(account, django_capture_on_commit_callbacks):
    # given a subscribed profile and an empty task queue
    profile_for(account, None, event_types.MESSAGE_STATUS)
    broker = get_broker()
    broker.purge_queue()

    # when the caller's transaction fails after emitting
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        event_emit(account=account, type=event_types.MESSAGE_STATUS, data={})
        raise RuntimeError("caller failed")

    # then no event, no delivery, no wake-up
    assert callbacks == []
    assert not Event.objects.exists() and not Delivery.objects.exists() and broker.queue_size() == 0


def test_events_emit_stores_a_burst_in_one_go_and_refuses_it_whole_if_one_is_invalid(
    account, django_capture_on_commit_callbacks
):
    # given two subscribed profiles
    first = profile_for(account, None, event_types.MESSAGE_STATUS)
    profile_for(account, None, event_types.OTP_SENT)

    # when a burst is emitted
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        events = events_emit(
            account=account,
            items=[
                (event_types.MESSAGE_STATUS, {"n": 1}),
                (event_types.OTP_SENT, {"n": 2}),
                (event_types.MESSAGE_STATUS, {}),
            ],
        )

    # then each event has its deliveries and the dispatcher is woken once
    assert [event.type for event in events] == [
        event_types.MESSAGE_STATUS,
        event_types.OTP_SENT,
        event_types.MESSAGE_STATUS,
    ]
    assert Delivery.objects.filter(profile=first).count() == 2 and Delivery.objects.count() == 3
    assert len(callbacks) == 1
    # and a burst with one invalid item stores nothing
    with pytest.raises(ValidationError):
        events_emit(account=account, items=[(event_types.MESSAGE_STATUS, {}), ("nope", {})])
    assert Event.objects.count() == 3
