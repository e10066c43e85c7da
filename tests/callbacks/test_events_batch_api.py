"""`POST /api/v1/events/batch/` as a producer uses it: per-item results in order, idempotency per item,
bad batches refused whole with nothing stored, and the batch delivered by the engine."""

from __future__ import annotations

import json

import pytest
from django_q.brokers import get_broker

from callbacks import event_types
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import CallbackProfile, Delivery, Event
from callbacks.services.events import MAX_BATCH_EVENTS, MAX_PAYLOAD_BYTES
from tests.callbacks.engine_helpers import profile_for
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/events/batch/"
EVENTS = "/api/v1/events/"


def post(api, events, **extra):
    return api.post(BATCH, {"events": events, **extra}, format="json")


def test_a_batch_answers_207_with_one_result_per_item_in_order(api, account):
    # given two profiles subscribed to message.status and one, abnormal, to otp.sent
    first = profile_for(account, None, event_types.MESSAGE_STATUS)
    second = profile_for(account, None, event_types.MESSAGE_STATUS)
    abnormal = profile_for(account, None, event_types.OTP_SENT, status=CallbackProfile.Status.ABNORMAL)

    # when a batch mixes good and bad items
    response = post(
        api,
        [
            {"type": event_types.MESSAGE_STATUS, "data": {"n": 0}},
            {"type": "no.such_type", "data": {}},
            {"type": event_types.OTP_SENT, "data": {"n": 2}, "idempotency_key": "otp-2"},
            {"type": event_types.MESSAGE_STATUS, "data": [1, 2]},
            {"data": {}},
            "not an object",
            {"type": event_types.MESSAGE_STATUS, "data": {"n": 6}, "idempotency_key": 12345},
        ],
    )

    # then each item has its result, in order, and the bad ones name their fields
    assert response.status_code == 207
    body = response.json()
    results = body["results"]
    assert [item["status"] for item in results] == [
        "accepted",
        "refused",
        "accepted",
        "refused",
        "refused",
        "refused",
        "accepted",
    ]
    assert body["accepted"] == 3 and body["refused"] == 4
    assert "type" in results[1]["errors"] and "data" in results[3]["errors"]
    assert "type" in results[4]["errors"] and "non_field_errors" in results[5]["errors"]
    assert all(
        isinstance(messages, list) for item in results if "errors" in item for messages in item["errors"].values()
    )

    # and exactly the accepted events are stored, with their deliveries (the abnormal profile's held)
    accepted = [item["id"] for item in results if item["status"] == "accepted"]
    assert set(map(str, Event.objects.values_list("pk", flat=True))) == set(accepted)
    assert Event.objects.get(pk=accepted[0]).payload == {"n": 0}
    assert Event.objects.get(pk=accepted[2]).idempotency_key == "12345"
    assert Delivery.objects.filter(profile=first).count() == Delivery.objects.filter(profile=second).count() == 2
    assert list(Delivery.objects.filter(profile=abnormal).values_list("state", flat=True)) == [Delivery.State.HELD]
    assert Delivery.objects.filter(event_id=accepted[0], state=Delivery.State.PENDING).count() == 2


def test_idempotency_keys_count_per_item_across_batches_and_single_posts(api, account):
    # given an event posted alone under a key, and a batch posted under other keys
    profile_for(account, None, event_types.MESSAGE_STATUS)
    single = api.post(
        EVENTS, {"type": event_types.MESSAGE_STATUS, "data": {"n": 1}, "idempotency_key": "k-1"}, format="json"
    ).json()
    first = post(
        api,
        [
            {"type": event_types.MESSAGE_STATUS, "data": {"n": 2}, "idempotency_key": "k-2"},
            {"type": event_types.MESSAGE_STATUS, "data": {"n": 3}},
        ],
    ).json()["results"]

    # when a batch names both earlier keys and a new one
    again = post(
        api,
        [
            {"type": event_types.MESSAGE_STATUS, "data": {"n": 1}, "idempotency_key": "k-1"},
            {"type": event_types.MESSAGE_STATUS, "data": {"n": 2}, "idempotency_key": "k-2"},
            {"type": event_types.MESSAGE_STATUS, "data": {"n": 4}, "idempotency_key": "k-4"},
        ],
    ).json()["results"]
    # and a batch reusing an earlier key for other data
    reused = post(
        api,
        [
            {"type": event_types.MESSAGE_STATUS, "data": {"n": 9}, "idempotency_key": "k-1"},
            {"type": event_types.MESSAGE_STATUS, "data": {"n": 5}},
        ],
    ).json()["results"]

    # then the earlier events answer (replayed), only the new key stores an event
    assert again[0] == {"status": "accepted", "id": single["id"], "replayed": True}
    assert again[1] == {"status": "accepted", "id": first[0]["id"], "replayed": True}
    assert again[2]["replayed"] is False
    # the reused key is refused naming the first event, and the other item is stored
    assert reused[0]["status"] == "refused" and single["id"] in reused[0]["errors"]["idempotency_key"][0]
    assert reused[1]["status"] == "accepted"
    assert Event.objects.count() == 5 and Delivery.objects.count() == 5
    assert Event.objects.get(pk=single["id"]).payload == {"n": 1}

    # and a single post of a key stored by a batch answers with the batch's event
    replayed = api.post(
        EVENTS, {"type": event_types.MESSAGE_STATUS, "data": {"n": 4}, "idempotency_key": "k-4"}, format="json"
    )
    assert replayed.status_code == 202 and replayed.json()["id"] == again[2]["id"]


def test_an_item_over_256_kib_is_refused_alone(api, account):
    profile_for(account, None, event_types.MESSAGE_STATUS)
    response = post(
        api,
        [
            {"type": event_types.MESSAGE_STATUS, "data": {"blob": "x" * (MAX_PAYLOAD_BYTES + 1)}},
            {"type": event_types.MESSAGE_STATUS, "data": {"n": 1}},
        ],
    )
    results = response.json()["results"]
    assert response.status_code == 207
    assert (
        results[0]["status"] == "refused" and f"limit is {MAX_PAYLOAD_BYTES} bytes" in results[0]["errors"]["data"][0]
    )
    assert results[1]["status"] == "accepted"
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"events": {"type": event_types.MESSAGE_STATUS, "data": {}}}, "list"),
        ({"events": []}, "empty"),
        ({"type": event_types.MESSAGE_STATUS, "data": {}}, "events"),
        ([{"type": event_types.MESSAGE_STATUS, "data": {}}], "events"),
        (
            {"events": [{"type": event_types.MESSAGE_STATUS, "data": {"n": n}} for n in range(MAX_BATCH_EVENTS + 1)]},
            "1,000",
        ),
        (
            {
                "events": [
                    {"type": event_types.MESSAGE_STATUS, "data": {"n": 1}, "idempotency_key": "same"},
                    {"type": event_types.MESSAGE_STATUS, "data": {"n": 2}},
                    {"type": event_types.MESSAGE_STATUS, "data": {"n": 3}, "idempotency_key": " same "},
                ]
            },
            "“same” at items 0 and 2",
        ),
    ],
)
def test_a_bad_batch_is_refused_whole_with_400_and_nothing_stored(api, account, body, reason):
    # given a subscribed profile
    profile_for(account, None, event_types.MESSAGE_STATUS)
    # when a malformed batch is posted
    response = api.post(BATCH, body, format="json")
    # then it is 400 naming `events` and why, and nothing is stored
    assert response.status_code == 400
    assert reason in response.json()["events"][0]
    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_a_batch_over_the_byte_limit_is_413_and_nothing_is_stored(api, account):
    from callbacks.api.events import MAX_BATCH_REQUEST_BYTES

    profile_for(account, None, event_types.MESSAGE_STATUS)
    events = [{"type": event_types.MESSAGE_STATUS, "data": {"blob": "z" * 200_000}} for _ in range(30)]
    body = json.dumps({"events": events})
    assert len(body) > MAX_BATCH_REQUEST_BYTES
    response = api.post(BATCH, body, content_type="application/json")
    assert response.status_code == 413
    assert not Event.objects.exists()


def test_malformed_json_and_other_media_types_are_refused(api):
    assert api.post(BATCH, '{"events": [', content_type="application/json").status_code == 400
    assert api.post(BATCH, "events=1", content_type="application/x-www-form-urlencoded").status_code == 415
    assert not Event.objects.exists()


def test_a_read_only_key_cannot_post_a_batch(account):
    reader = api_client_for(account, scopes=("read",))
    response = post(reader, [{"type": event_types.MESSAGE_STATUS, "data": {}}])
    assert response.status_code == 403
    assert not Event.objects.exists()


def test_a_batch_wakes_the_dispatcher_once_and_is_delivered(api, account, receiver, django_capture_on_commit_callbacks):
    # given a profile calling a real receiver and an empty task queue
    profile_for(account, receiver, event_types.MESSAGE_STATUS)
    broker = get_broker()
    broker.purge_queue()

    # when a batch of 20 events is posted
    with django_capture_on_commit_callbacks(execute=True):
        results = post(api, [{"type": event_types.MESSAGE_STATUS, "data": {"n": n}} for n in range(20)]).json()[
            "results"
        ]

    # then one wake-up is queued, and the engine delivers each event to the receiver once
    assert broker.queue_size() == 1
    broker.purge_queue()
    dispatch_batch(worker_id="test")
    requests = receiver.wait_for(20)
    assert sorted(request.json()["data"]["n"] for request in requests) == list(range(20))
    ids = {item["id"] for item in results}
    assert {request.json()["id"] for request in requests} == ids
    assert Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == 20


def test_the_batch_operation_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/events/batch/"]["post"]
    assert "207" in operation["responses"]
    assert "requestBody" in operation
