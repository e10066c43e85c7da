"""Batches as a receiver sees them: closed by size or by the wait after their first item, then kept
as a unit (the same webhook-id and items, in order) through retries, Retry now and replay."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from standardwebhooks.webhooks import Webhook

from callbacks import clock
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import CallbackProfile, Delivery
from callbacks.services.profiles import profile_create, profile_update
from tests.callbacks.engine_helpers import SECRET, delivery_of, emit, profile_for
from tests.receivers import Reply

pytestmark = pytest.mark.django_db


def _items(request) -> list[dict]:
    return request.json()["callbacks"]


def _numbers(request) -> list[int]:
    return [item["data"]["n"] for item in _items(request)]


def test_a_batch_closes_wait_ms_after_its_first_item_not_after_each(account, receiver):
    # given a profile batching 10 events for at most 60 s (long, so a loaded machine's own time counts little)
    profile_for(account, receiver, batch_max_size=10, batch_max_wait_ms=60_000)

    # when 5 events trickle in over 40 s, the dispatcher looking after each
    for number in range(5):
        emit(account, {"n": number})
        dispatch_batch(worker_id="test")
        clock.advance(seconds=10)
    clock.advance(seconds=5)  # 55 s after the first item
    dispatch_batch(worker_id="test")
    assert receiver.requests == []

    # then 60 s after the first item, one request carries all five, in order
    clock.advance(seconds=5)
    dispatch_batch(worker_id="test")
    [request] = receiver.wait_for(1)
    assert _numbers(request) == [0, 1, 2, 3, 4]


def test_events_arriving_across_claims_fill_batches_to_their_size(account, receiver):
    # given a profile batching 10 events for at most 60 s
    profile_for(account, receiver, batch_max_size=10, batch_max_wait_ms=60_000)

    # when 20 events arrive in four bursts, the dispatcher looking after each
    for burst in range(4):
        for number in range(5):
            emit(account, {"n": burst * 5 + number})
        dispatch_batch(worker_id="test")
        clock.advance(seconds=1)

    # then they went as two full requests, each filled the moment it had 10 items
    requests = receiver.wait_for(2)
    assert [_numbers(request) for request in requests] == [list(range(10)), list(range(10, 20))]


def test_every_item_carries_its_delivery_id_and_the_webhook_id_is_the_batch(account, receiver):
    # given a signing profile batching 3 events at once
    profile_for(account, receiver, batch_max_size=3, batch_max_wait_ms=0, signing_secret=SECRET)
    events = [emit(account, {"n": number}) for number in range(3)]

    # when they go out
    dispatch_batch(worker_id="test")
    [request] = receiver.wait_for(1)

    # then each item names its own delivery, the webhook-id is the batch's, and the reference verifier agrees
    deliveries = [delivery_of(event) for event in events]
    assert [item["delivery_id"] for item in _items(request)] == [str(delivery.pk) for delivery in deliveries]
    assert {str(delivery.batch_id) for delivery in deliveries} == {request.header("webhook-id")}
    headers = {name.lower(): value for name, value in request.headers.items()}
    Webhook(SECRET).verify(request.body.decode(), headers)


def test_a_failed_batch_is_retried_as_the_same_batch(account, receiver):
    # given a batch whose first attempt fails, retried after 10 s (±10 % jitter)
    profile_for(account, receiver, batch_max_size=3, batch_max_wait_ms=0, retry_schedule_s=[10, 10])
    receiver.respond_next(Reply(status=500))
    for number in range(3):
        emit(account, {"n": number})
    dispatch_batch(worker_id="test")
    [first] = receiver.wait_for(1)

    # when the dispatcher looks every 0.25 s across the whole jitter window
    clock.advance(seconds=8.9)
    for _ in range(10):
        clock.advance(seconds=0.25)
        dispatch_batch(worker_id="test")

    # then one retry came: the same webhook-id, the same items in the same order
    first_id = first.header("webhook-id")
    requests = receiver.requests
    assert len(requests) == 2
    retry = requests[1]
    assert retry.header("webhook-id") == first_id
    assert _items(retry) == _items(first)
    assert set(Delivery.objects.values_list("state", flat=True)) == {"delivered"}


def test_retry_now_and_replay_send_the_whole_batch_and_a_receiver_drops_the_duplicates(account, api, receiver):
    # given a receiver that processes each webhook-id once, and a delivered batch of 3
    seen: set[str] = set()
    processed: list[int] = []

    def deduplicating(request):
        if request.header("webhook-id") not in seen:
            seen.add(request.header("webhook-id"))
            processed.extend(_numbers(request))
        return Reply()

    receiver.respond_by(deduplicating)
    profile_for(account, receiver, batch_max_size=3, batch_max_wait_ms=0)
    events = [emit(account, {"n": number}) for number in range(3)]
    dispatch_batch(worker_id="test")
    [original] = receiver.wait_for(1)

    # when one member is retried now through the API, then the range of another is replayed
    middle = delivery_of(events[1])
    assert api.post(f"/api/v1/deliveries/{middle.pk}/retry/").status_code in (200, 202)
    dispatch_batch(worker_id="test")
    replay = api.post(
        "/api/v1/deliveries/replay/",
        {"state": "delivered", "since": delivery_of(events[2]).created_at.isoformat()},
        format="json",
    )
    assert replay.status_code in (200, 202), replay.content
    dispatch_batch(worker_id="test")

    # then each went out as the whole batch, identical, and the receiver processed every item once
    requests = receiver.wait_for(3)
    assert len(requests) == 3
    assert {request.header("webhook-id") for request in requests} == {original.header("webhook-id")}
    assert all(_items(request) == _items(original) for request in requests)
    assert processed == [0, 1, 2]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"body_type": "xml", "body_template": "<a/>"}, "XML body carries one event"),
        ({"body_type": "text", "body_template": "hi"}, "TEXT body carries one event"),
        ({"http_method": "GET"}, "GET requests carry no body"),
        ({"http_method": "DELETE"}, "DELETE requests carry no body"),
    ],
)
def test_batching_a_body_that_cannot_batch_is_refused_at_save(account, fields, reason):
    # given a profile that batches 5 events, with a body or method that cannot carry a list
    values = {"name": "b", "url": "https://example.com/hook", "batch_max_size": 5, **fields}

    # when it is saved, it is refused under batch_max_size, and an existing profile cannot be changed so
    with pytest.raises(ValidationError) as error:
        profile_create(account=account, **values)
    assert reason in " ".join(error.value.message_dict["batch_max_size"])
    profile = profile_create(account=account, name="b", url="https://example.com/hook", batch_max_size=5)
    with pytest.raises(ValidationError) as error:
        profile_update(profile=profile, **fields)
    assert reason in " ".join(error.value.message_dict["batch_max_size"])


def test_the_api_refuses_batching_with_an_xml_body(api):
    response = api.post(
        "/api/v1/callback-profiles/",
        {
            "name": "b",
            "url": "https://example.com/hook",
            "body_type": "xml",
            "body_template": "<a/>",
            "batch_max_size": 5,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "XML body carries one event" in " ".join(response.json()["batch_max_size"])


def test_a_retry_from_before_batching_was_turned_on_joins_a_batch(account, receiver):
    # given a delivery that failed once while the profile sent one event per request
    profile = profile_for(account, receiver, retry_schedule_s=[5, 5])
    receiver.respond_next(Reply(status=500))
    emit(account, {"n": 0})
    dispatch_batch(worker_id="test")
    receiver.wait_for(1)

    # when batching is turned on, two more events come, and the retry falls due
    CallbackProfile.objects.filter(pk=profile.pk).update(batch_max_size=3)
    emit(account, {"n": 1})
    emit(account, {"n": 2})
    clock.advance(seconds=6)
    dispatch_batch(worker_id="test")

    # then the three go out as one batch, oldest first
    requests = receiver.wait_for(2)
    assert len(requests) == 2 and _numbers(requests[1]) == [0, 1, 2]
    assert set(Delivery.objects.values_list("state", flat=True)) == {"delivered"}


def test_a_batch_whose_profile_can_no_longer_batch_goes_out_one_by_one(account, receiver):
    # given a batch of two that failed once
    profile = profile_for(account, receiver, batch_max_size=2, retry_schedule_s=[5, 5])
    receiver.respond_next(Reply(status=500))
    events = [emit(account, {"n": number}) for number in range(2)]
    dispatch_batch(worker_id="test")
    receiver.wait_for(1)

    # when the profile is changed to GET (no body, one event per request) and the retry falls due
    CallbackProfile.objects.filter(pk=profile.pk).update(http_method="GET", batch_max_size=1)
    clock.advance(seconds=6)
    dispatch_batch(worker_id="test")

    # then each member arrives on its own, under its own delivery id, and nothing is lost
    requests = receiver.wait_for(3)[1:]
    assert sorted(request.header("webhook-id") for request in requests) == sorted(
        str(delivery_of(event).pk) for event in events
    )
    assert sorted(json.loads(request.query["data"][0])["n"] for request in requests) == [0, 1]
    assert set(Delivery.objects.values_list("state", flat=True)) == {"delivered"}
