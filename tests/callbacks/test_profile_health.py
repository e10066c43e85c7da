"""Health states and Refresh over the API: one answer (enabled, failing, abnormal, disabled) with the
last error in words; Refresh records what it found and a good one resumes an abnormal profile."""

from __future__ import annotations

import pytest

from callbacks import event_types
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import CallbackProfile, Delivery
from callbacks.selectors.health import health_counts, health_of
from tests.callbacks.engine_helpers import emit, profile_for
from tests.receivers import Reply

pytestmark = pytest.mark.django_db
PROFILES = "/api/v1/callback-profiles/"


def test_a_failed_attempt_turns_the_profile_failing_with_the_error_in_words(api, account, receiver):
    # given an enabled profile whose endpoint answers 503
    profile = profile_for(account, receiver, retry_schedule_s=[60, 60])
    other = profile_for(account, None, event_types.OTP_SENT, name="Quiet")
    receiver.respond_with(status=503)
    # when one delivery is attempted
    emit(account)
    dispatch_batch(worker_id="test")
    receiver.wait_for(1)
    # then the API says failing at once, with the error in words, while the delivery is still retried
    answer = api.get(f"{PROFILES}{profile.pk}/").json()
    assert answer["status"] == "enabled"
    assert answer["health"] == "failing"
    assert answer["last_error"] == "HTTP 503 Service Unavailable"
    assert answer["health_reason"] == "1 attempt in a row failed: HTTP 503 Service Unavailable"
    assert Delivery.objects.get(profile=profile).state == Delivery.State.PENDING
    # and the health filter tells the failing profile from the answering one
    failing = api.get(PROFILES, {"health": "failing"}).json()["results"]
    enabled = api.get(PROFILES, {"health": "enabled"}).json()["results"]
    assert [row["id"] for row in failing] == [str(profile.pk)]
    assert [row["id"] for row in enabled] == [str(other.pk)]
    assert api.get(PROFILES, {"health": "sick"}).status_code == 400
    assert health_counts(CallbackProfile.objects.filter(account=account)) == {
        "enabled": 1,
        "failing": 1,
        "abnormal": 0,
        "disabled": 0,
    }
    stats = api.get(f"{PROFILES}{profile.pk}/stats/").json()
    assert stats["health"]["health"] == "failing"


def test_a_success_after_failures_turns_it_enabled_again(api, account, receiver):
    profile = profile_for(account, receiver, retry_schedule_s=[0, 0])
    receiver.respond_next(Reply(status=500))
    emit(account)
    dispatch_batch(worker_id="test")
    assert api.get(f"{PROFILES}{profile.pk}/").json()["health"] == "failing"
    dispatch_batch(worker_id="test")
    receiver.wait_for(2)
    answer = api.get(f"{PROFILES}{profile.pk}/").json()
    assert answer["health"] == "enabled" and answer["health_reason"] == ""


def test_refresh_records_its_result_and_a_good_one_resumes_an_abnormal_profile(api, account, receiver):
    # given an abnormal profile holding a delivery, whose endpoint refuses the test
    profile = profile_for(account, receiver)
    emit(account)
    CallbackProfile.objects.filter(pk=profile.pk).update(status="abnormal", status_reason="failing for 5 days")
    Delivery.objects.filter(profile=profile).update(state=Delivery.State.HELD)
    receiver.respond_next(Reply(status=502))
    # when Refresh runs and fails
    assert api.post(f"{PROFILES}{profile.pk}/test/").json()["ok"] is False
    # then its result and time are kept on the profile, and it stays abnormal with the reason shown
    answer = api.get(f"{PROFILES}{profile.pk}/").json()
    assert answer["health"] == "abnormal" and answer["last_check_ok"] is False
    assert answer["last_check_detail"].startswith("HTTP 502 Bad Gateway in ")
    assert answer["last_check_at"] is not None
    profile.refresh_from_db()
    assert health_of(profile).check.startswith("Refresh: failed, HTTP 502 Bad Gateway")
    # when Refresh runs again and the endpoint answers
    assert api.post(f"{PROFILES}{profile.pk}/test/").json()["ok"] is True
    # then the profile is enabled again, its held delivery due, and the good result shown
    answer = api.get(f"{PROFILES}{profile.pk}/").json()
    assert (answer["health"], answer["status"], answer["last_check_ok"]) == ("enabled", "enabled", True)
    assert Delivery.objects.get(profile=profile).state == Delivery.State.PENDING
    profile.refresh_from_db()
    assert health_of(profile).check.startswith("Refresh: reachable, HTTP 200 in ")


def test_a_failed_refresh_of_an_answering_profile_shows_it_failing(api, account, receiver):
    profile = profile_for(account, receiver)
    receiver.respond_with(close=True)
    api.post(f"{PROFILES}{profile.pk}/test/")
    answer = api.get(f"{PROFILES}{profile.pk}/").json()
    assert answer["health"] == "failing"
    assert answer["last_error"] and answer["last_error"] == answer["last_check_detail"]


def test_a_read_only_key_cannot_refresh(account, receiver):
    from tests.conftest import api_client_for

    profile = profile_for(account, receiver)
    reader = api_client_for(account, scopes=("read",))
    assert reader.post(f"{PROFILES}{profile.pk}/test/").status_code == 403
    assert receiver.requests == []
