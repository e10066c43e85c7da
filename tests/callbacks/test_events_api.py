"""`POST /api/v1/events/` and `GET /api/v1/events/{id}/` as a producer uses them."""

from __future__ import annotations

import json

import pytest

from callbacks import event_types
from callbacks.models import Delivery, Event
from callbacks.services.events import MAX_PAYLOAD_BYTES
from tests.callbacks.engine_helpers import profile_for

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events/"


def test_an_event_is_accepted_with_202_and_its_deliveries(api, account):
    # given two subscribed profiles
    first = profile_for(account, None)
    second = profile_for(account, None)

    # when a producer posts an event
    response = api.post(EVENTS, {"type": event_types.MESSAGE_STATUS, "data": {"status": "read"}}, format="json")

    # then it is accepted with one pending delivery per profile
    assert response.status_code == 202
    body = response.json()
    assert body["type"] == event_types.MESSAGE_STATUS and body["data"] == {"status": "read"}
    assert {item["profile"] for item in body["deliveries"]} == {str(first.pk), str(second.pk)}
    assert {item["state"] for item in body["deliveries"]} == {"pending"}
    assert Delivery.objects.filter(event_id=body["id"]).count() == 2


def test_the_same_idempotency_key_answers_with_the_first_event(api, account):
    profile_for(account, None)
    payload = {"type": event_types.OTP_SENT, "data": {"n": 1}, "idempotency_key": "otp-77"}
    first = api.post(EVENTS, payload, format="json")
    again = api.post(EVENTS, payload, format="json")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["data"] == {"n": 1}
    assert Event.objects.count() == 1


def test_over_256_kib_is_413_and_nothing_is_stored(api, account):
    profile_for(account, None)
    blob = "x" * (MAX_PAYLOAD_BYTES + 1)
    response = api.post(EVENTS, {"type": event_types.MESSAGE_STATUS, "data": {"blob": blob}}, format="json")
    assert response.status_code == 413
    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_a_huge_body_is_refused_before_parsing(api):
    body = json.dumps({"type": event_types.MESSAGE_STATUS, "data": {"blob": "y" * (3 * MAX_PAYLOAD_BYTES)}})
    response = api.post(EVENTS, body, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "no.such_type", "data": {}}, "type"),
        ({"type": event_types.MESSAGE_STATUS, "data": [1, 2]}, "data"),
        ({"data": {}}, "type"),
        ({"type": event_types.MESSAGE_STATUS}, "data"),
    ],
)
def test_invalid_events_are_400_with_the_field_named(api, body, field):
    response = api.post(EVENTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Event.objects.exists()


def test_malformed_json_is_400(api):
    response = api.post(EVENTS, '{"type": "message.status", "data": {', content_type="application/json")
    assert response.status_code == 400
    assert not Event.objects.exists()


def test_an_event_is_read_back_by_its_account_only(api, other_api, account):
    profile_for(account, None)
    created = api.post(EVENTS, {"type": event_types.MESSAGE_STATUS, "data": {"a": 1}}, format="json").json()
    mine = api.get(f"{EVENTS}{created['id']}/")
    assert mine.status_code == 200 and mine.json()["deliveries"] == created["deliveries"]
    assert other_api.get(f"{EVENTS}{created['id']}/").status_code == 404


def test_a_read_only_key_cannot_post_events(account):
    from tests.conftest import api_client_for

    response = api_client_for(account, scopes=("read",)).post(
        EVENTS, {"type": event_types.MESSAGE_STATUS, "data": {}}, format="json"
    )
    assert response.status_code == 403
