"""The delivery log, retry, replay, and the profile actions test / trigger / stats, through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from callbacks import clock, event_types
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import CallbackProfile, Delivery
from tests.callbacks.engine_helpers import SECRET, delivery_of, emit, profile_for
from tests.receivers import Reply

pytestmark = pytest.mark.django_db

DELIVERIES = "/api/v1/deliveries/"


def test_the_log_filters_by_profile_state_type_event_and_time(api, other_api, account, other_account, receiver):
    # given two profiles with deliveries in several states, and another account's delivery
    orders = profile_for(account, receiver, event_types.MESSAGE_STATUS, event_types.OTP_SENT)
    other = profile_for(account, None, event_types.MESSAGE_STATUS)
    profile_for(other_account, None)
    first = emit(account, {"n": 1})
    otp = emit(account, {"n": 2}, type=event_types.OTP_SENT)
    emit(other_account, {"n": 3})
    Delivery.objects.filter(event=otp).update(created_at=clock.now() - timedelta(days=2))
    receiver.respond_with(status=404)
    dispatch_batch(worker_id="test")

    def ids(**query) -> set[str]:
        response = api.get(DELIVERIES, query)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    # then each filter narrows the account's own log
    all_mine = ids()
    assert len(all_mine) == 3
    assert ids(profile=str(other.pk)) == {str(Delivery.objects.get(profile=other).pk)}
    assert ids(profile=str(orders.pk), state="failed") == {
        str(pk) for pk in Delivery.objects.filter(profile=orders).values_list("pk", flat=True)
    }
    assert ids(event_type=event_types.OTP_SENT) == {str(delivery_of(otp).pk)}
    assert ids(event=str(first.pk)) == {
        str(pk) for pk in Delivery.objects.filter(event=first).values_list("pk", flat=True)
    }
    recent = (clock.now() - timedelta(days=1)).isoformat()
    assert str(delivery_of(otp).pk) not in ids(created_after=recent)
    assert ids(created_before=recent) == {str(delivery_of(otp).pk)}
    assert api.get(DELIVERIES, {"state": "nonsense"}).status_code == 400
    assert len(other_api.get(DELIVERIES).json()["results"]) == 1


def test_one_delivery_shows_its_attempts_with_secrets_redacted(api, other_api, account, receiver):
    # given a delivery tried twice with Basic authentication
    profile_for(account, receiver, auth_username="ada", auth_password="hunter2", retry_schedule_s=[0])
    receiver.respond_next(Reply(status=503, body="busy"))
    event = emit(account, {"status": "sent"})
    dispatch_batch(worker_id="test")
    dispatch_batch(worker_id="test")
    delivery = delivery_of(event)

    # when its owner reads it
    body = api.get(f"{DELIVERIES}{delivery.pk}/").json()

    # then both attempts are there as sent and as answered, without the password
    assert body["state"] == "delivered" and body["attempt_count"] == 2
    first, second = body["attempts"]
    assert (first["number"], first["response_status"], first["response_body"], first["outcome"]) == (
        1,
        503,
        "busy",
        "retry",
    )
    assert second["outcome"] == "delivered"
    assert first["request_headers"]["Authorization"] == "[redacted]"
    assert '"sent"' in first["request_body"]
    assert "hunter2" not in str(body)
    assert other_api.get(f"{DELIVERIES}{delivery.pk}/").status_code == 404


def test_retry_sends_a_failed_delivery_again_with_the_same_id(api, other_api, account, receiver):
    # given a delivery that failed permanently
    profile_for(account, receiver)
    receiver.respond_next(Reply(status=400))
    event = emit(account)
    dispatch_batch(worker_id="test")
    delivery = delivery_of(event)
    assert delivery.state == "failed"

    # when its owner retries it
    assert other_api.post(f"{DELIVERIES}{delivery.pk}/retry/").status_code == 404
    response = api.post(f"{DELIVERIES}{delivery.pk}/retry/")
    dispatch_batch(worker_id="test")

    # then it goes out again under the same webhook-id and is delivered
    assert response.status_code == 202 and response.json()["state"] == "pending"
    first, second = receiver.wait_for(2)
    assert first.header("webhook-id") == second.header("webhook-id") == str(delivery.pk)
    assert delivery_of(event).state == "delivered"


def test_replay_counts_first_then_sends_the_range_again(api, account, other_account, receiver):
    # given three failed deliveries, one of them old, and another account's failed one
    profile = profile_for(account, receiver)
    profile_for(other_account, None)
    receiver.respond_with(status=422)
    events = [emit(account, {"n": number}) for number in range(3)]
    emit(other_account)
    dispatch_batch(worker_id="test")
    Delivery.objects.filter(event=events[0]).update(created_at=clock.now() - timedelta(days=3))
    since = (clock.now() - timedelta(days=1)).isoformat()

    # when the owner asks for a dry run of the recent failures, then replays them
    dry = api.post(f"{DELIVERIES}replay/", {"profile": str(profile.pk), "created_after": since, "dry_run": True})
    assert dry.status_code == 200 and dry.json() == {"count": 2, "dry_run": True, "limit": 50_000, "job": None}
    assert Delivery.objects.filter(account=account, state="pending").count() == 0
    receiver.respond_with(status=200)
    replay = api.post(f"{DELIVERIES}replay/", {"profile": str(profile.pk), "created_after": since}, format="json")
    dispatch_batch(worker_id="test")

    # then exactly those two were sent again and delivered
    assert replay.json() == {"count": 2, "dry_run": False, "limit": 50_000, "job": None}
    assert [delivery_of(event).state for event in events] == ["failed", "delivered", "delivered"]
    assert api.post(f"{DELIVERIES}replay/", {"state": "pending"}, format="json").status_code == 400


def test_the_connectivity_test_sends_a_signed_request_and_reports_the_answer(api, other_api, account, receiver):
    # given a signing profile
    profile = profile_for(account, receiver, signing_secret=SECRET)

    # when its owner tests it
    response = api.post(f"/api/v1/callback-profiles/{profile.pk}/test/")

    # then a signed callback.test went out and the answer is shown
    assert response.status_code == 200
    assert response.json()["ok"] is True and response.json()["status_code"] == 200
    [request] = receiver.wait_for(1)
    payload = Webhook(SECRET).verify(request.body, request.headers)
    assert payload["type"] == event_types.CALLBACK_TEST
    assert other_api.post(f"/api/v1/callback-profiles/{profile.pk}/test/").status_code == 404


def test_a_failing_connectivity_test_says_why(api, account, receiver):
    profile = profile_for(account, receiver)
    receiver.respond_with(status=401, body="bad token")
    body = api.post(f"/api/v1/callback-profiles/{profile.pk}/test/").json()
    assert body["ok"] is False and body["status_code"] == 401 and body["response_body"] == "bad token"
    assert body["error_class"] == "http_401"


def test_trigger_calls_one_profile_with_the_given_data(api, account, receiver):
    # given a profile not subscribed to callback.test and another subscribed profile
    profile = profile_for(account, receiver, event_types.OTP_SENT)
    profile_for(account, None, event_types.CALLBACK_TEST)

    # when the owner triggers the first one
    response = api.post(f"/api/v1/callback-profiles/{profile.pk}/trigger/", {"data": {"k": "v"}}, format="json")
    dispatch_batch(worker_id="test")

    # then only it is called, with that data
    assert response.status_code == 202
    assert [item["profile"] for item in response.json()["deliveries"]] == [str(profile.pk)]
    [request] = receiver.wait_for(1)
    assert request.json()["data"] == {"k": "v"} and request.json()["type"] == event_types.CALLBACK_TEST
    bad = api.post(f"/api/v1/callback-profiles/{profile.pk}/trigger/", {"data": "text"}, format="json")
    assert bad.status_code == 400


def test_another_accounts_profile_cannot_be_triggered_or_read(other_api, account, receiver):
    profile = profile_for(account, receiver)
    base = f"/api/v1/callback-profiles/{profile.pk}"
    assert other_api.post(f"{base}/trigger/", {"data": {}}, format="json").status_code == 404
    assert other_api.get(f"{base}/stats/").status_code == 404
    assert receiver.requests == []


def test_stats_come_from_the_rollups(api, account, receiver):
    # given a profile with one delivered, one failed after a retry, over two event types
    profile = profile_for(account, receiver, event_types.MESSAGE_STATUS, event_types.OTP_SENT, retry_schedule_s=[0])
    emit(account)
    dispatch_batch(worker_id="test")
    receiver.respond_with(status=500)
    emit(account, type=event_types.OTP_SENT)
    dispatch_batch(worker_id="test")
    dispatch_batch(worker_id="test")

    # when the owner reads the statistics
    body = api.get(f"/api/v1/callback-profiles/{profile.pk}/stats/").json()

    # then totals, per type and per failure class add up
    assert (body["delivered"], body["failed"], body["attempts"], body["failed_attempts"]) == (1, 1, 3, 2)
    assert body["failures_by_class"] == {"http_500": 2}
    by_type = {row["event_type"]: row for row in body["by_event_type"]}
    assert by_type[event_types.OTP_SENT]["failed"] == 1 and by_type[event_types.MESSAGE_STATUS]["delivered"] == 1
    assert body["health"]["consecutive_failures"] == 2
    later = (clock.now() + timedelta(hours=2)).isoformat()
    assert api.get(f"/api/v1/callback-profiles/{profile.pk}/stats/", {"since": later}).json()["attempts"] == 0


def test_a_disabled_profile_cannot_have_deliveries_retried(api, account, receiver):
    profile = profile_for(account, receiver)
    receiver.respond_next(Reply(status=400))
    event = emit(account)
    dispatch_batch(worker_id="test")
    CallbackProfile.objects.filter(pk=profile.pk).update(status=CallbackProfile.Status.DISABLED)
    response = api.post(f"{DELIVERIES}{delivery_of(event).pk}/retry/")
    assert response.status_code == 400 and "profile" in response.json()
