"""Callback profiles through the API with real keys: create, list, filter, change, delete, rotate."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from callbacks import event_types
from callbacks.delivery.render.signing import standard_signature
from callbacks.models import CallbackProfile
from callbacks.models.profiles import DEFAULT_RETRY_SCHEDULE_S

PROFILES = "/api/v1/callback-profiles/"
SECRET_VALUES = ("hunter2-password", "Bearer s3cr3t-token", "pepper-salt", "0123456789abcdef")


def profile_payload(**overrides) -> dict:
    payload = {
        "name": "Orders",
        "url": "http://127.0.0.1:9/hooks/<data.message_id>",
        "event_types": [event_types.MESSAGE_STATUS, event_types.OTP_SENT],
        "body_template": '{"phone": <data.phone>, "event": "<event.type>"}',
    }
    return {**payload, **overrides}


def create(api, **overrides) -> dict:
    response = api.post(PROFILES, profile_payload(**overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.django_db
def test_create_answers_the_profile_with_defaults_and_the_signing_secret_once(api, account):
    # when a profile is created with only the required fields and a template
    answer = create(api)
    # then the answer shows the stored profile with the documented defaults
    assert answer["name"] == "Orders"
    assert answer["http_method"] == "POST" and answer["body_type"] == "json"
    assert answer["event_types"] == sorted([event_types.MESSAGE_STATUS, event_types.OTP_SENT])
    assert answer["status"] == "enabled"
    assert answer["connect_timeout_s"] == 5.0 and answer["response_timeout_s"] == 60.0
    assert answer["retry_schedule_s"] == DEFAULT_RETRY_SCHEDULE_S
    assert answer["max_in_flight"] == 20 and answer["batch_max_size"] == 1
    # and the generated Standard Webhooks secret is revealed in this answer only
    secret = answer["signing_secret"]
    assert secret.startswith("whsec_") and answer["signing_secret_set"] is True
    profile = CallbackProfile.objects.get(pk=answer["id"])
    assert profile.account == account and profile.signing_secret == secret
    # and that secret signs as the specification says
    assert standard_signature(secret=secret, message_id="m", timestamp=1, body=b"{}").startswith("v1,")
    read_again = api.get(f"{PROFILES}{answer['id']}/").json()
    assert "signing_secret" not in read_again
    assert secret not in json.dumps(read_again)


@pytest.mark.django_db
def test_secrets_are_write_only_and_never_come_back(api):
    # given a profile saved with every kind of secret
    answer = create(
        api,
        auth_header="Bearer s3cr3t-token",
        sign_md5=True,
        md5_salt="pepper-salt",
        encryption_cipher="aes-128-gcm",
        encryption_key="0123456789abcdef",
        encryption_fields=["phone"],
    )
    profile_id = answer["id"]
    patched = api.patch(
        f"{PROFILES}{profile_id}/",
        {"auth_header": "", "auth_username": "u", "auth_password": "hunter2-password"},
        format="json",
    )
    assert patched.status_code == 200
    # when it is read back in every way the API offers
    answers = [answer, patched.json(), api.get(f"{PROFILES}{profile_id}/").json(), api.get(PROFILES).json()]
    text = json.dumps(answers)
    # then no secret value appears, only whether each is set
    for secret in SECRET_VALUES:
        assert secret not in text
    current = answers[2]
    assert current["auth_password_set"] is True and current["auth_header_set"] is False
    assert current["md5_salt_set"] is True and current["encryption_key_set"] is True
    for field in ("auth_password", "auth_header", "md5_salt", "encryption_key", "previous_signing_secret"):
        assert field not in current
    # and the secrets are stored encrypted, readable by the engine
    profile = CallbackProfile.objects.get(pk=profile_id)
    assert (profile.auth_password, profile.md5_salt, profile.encryption_key) == (
        "hunter2-password",
        "pepper-salt",
        "0123456789abcdef",
    )


@pytest.mark.django_db
def test_a_change_that_omits_a_secret_keeps_it(api):
    answer = create(api, auth_username="user", auth_password="hunter2-password")
    # when another field is changed with PUT (secrets cannot be sent back, since they are never shown)
    response = api.put(
        f"{PROFILES}{answer['id']}/", profile_payload(name="Renamed", auth_username="user"), format="json"
    )
    # then the password is still set
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Renamed" and response.json()["auth_password_set"] is True
    assert CallbackProfile.objects.get(pk=answer["id"]).auth_password == "hunter2-password"


@pytest.mark.django_db
def test_list_and_read_a_profile(api):
    first, second = create(api, name="First"), create(api, name="Second")
    listing = api.get(PROFILES)
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [second["id"], first["id"]]
    assert listing.json()["count"] == 2
    one = api.get(f"{PROFILES}{first['id']}/")
    assert one.status_code == 200 and one.json()["name"] == "First"


@pytest.mark.django_db
def test_patch_changes_only_the_given_fields(api):
    answer = create(api, headers={"X-Tenant": "acme"})
    response = api.patch(
        f"{PROFILES}{answer['id']}/",
        {"http_method": "PUT", "max_in_flight": 7, "event_types": [event_types.OTP_VERIFIED], "status": "disabled"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    changed = response.json()
    assert changed["http_method"] == "PUT" and changed["max_in_flight"] == 7
    assert changed["event_types"] == [event_types.OTP_VERIFIED] and changed["status"] == "disabled"
    assert changed["headers"] == {"X-Tenant": "acme"} and changed["name"] == "Orders"
    assert "signing_secret" not in changed or changed["signing_secret"] is None


@pytest.mark.django_db
def test_put_requires_the_required_fields(api):
    answer = create(api)
    response = api.put(f"{PROFILES}{answer['id']}/", {"name": "Only a name"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"url": ["This field is required."]}


@pytest.mark.django_db
def test_delete_removes_the_profile(api):
    answer = create(api)
    assert api.delete(f"{PROFILES}{answer['id']}/").status_code == 204
    assert api.get(f"{PROFILES}{answer['id']}/").status_code == 404
    assert not CallbackProfile.objects.filter(pk=answer["id"]).exists()


@pytest.mark.django_db
def test_rotate_secret_answers_a_new_secret_and_keeps_the_old_one_for_a_day(api):
    # given a profile and its first secret
    answer = create(api)
    old_secret = answer["signing_secret"]
    # when the secret is rotated
    response = api.post(f"{PROFILES}{answer['id']}/rotate-secret/")
    # then a new secret is answered once, and the old one is kept for 24 hours
    assert response.status_code == 200
    new_secret = response.json()["signing_secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    expires = dt.datetime.fromisoformat(response.json()["previous_signing_secret_expires_at"].replace("Z", "+00:00"))
    assert abs(expires - (timezone.now() + dt.timedelta(hours=24))) < dt.timedelta(minutes=1)
    profile = CallbackProfile.objects.get(pk=answer["id"])
    assert (profile.signing_secret, profile.previous_signing_secret) == (new_secret, old_secret)
    read = api.get(f"{PROFILES}{answer['id']}/").json()
    assert new_secret not in json.dumps(read) and read["previous_signing_secret_expires_at"]


@pytest.mark.django_db
def test_turning_standard_signing_on_later_reveals_the_generated_secret(api):
    answer = create(api, sign_standard_webhooks=False, sign_md5=True, md5_salt="pepper-salt")
    assert answer["signing_secret"] is None and answer["signing_secret_set"] is False
    response = api.patch(f"{PROFILES}{answer['id']}/", {"sign_standard_webhooks": True}, format="json")
    assert response.json()["signing_secret"].startswith("whsec_")


@pytest.mark.django_db
def test_filters_by_name_method_and_status(api):
    # given three profiles that differ by name, method and status
    orders = create(api, name="Orders EU")
    create(api, name="Billing", http_method="PUT")
    paused = create(api, name="orders paused", status="disabled")

    def ids(query: str) -> set[str]:
        response = api.get(f"{PROFILES}?{query}")
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    # then each filter narrows the list, the name case-insensitively
    assert ids("name=ORDERS") == {orders["id"], paused["id"]}
    assert ids("http_method=PUT") == {
        row["id"] for row in api.get(PROFILES).json()["results"] if row["name"] == "Billing"
    }
    assert ids("status=disabled") == {paused["id"]}
    assert ids("name=orders&status=enabled") == {orders["id"]}


@pytest.mark.django_db
def test_filters_by_creation_date_in_the_account_timezone(api, account):
    # given an account in Singapore (UTC+8) and profiles created at known moments
    account.timezone = "Asia/Singapore"
    account.save()
    early, late = create(api, name="early"), create(api, name="late")
    CallbackProfile.objects.filter(pk=early["id"]).update(created_at=dt.datetime(2026, 11, 1, 15, 0, tzinfo=dt.UTC))
    CallbackProfile.objects.filter(pk=late["id"]).update(created_at=dt.datetime(2026, 11, 1, 17, 0, tzinfo=dt.UTC))

    def names(query: str) -> set[str]:
        response = api.get(f"{PROFILES}?{query}")
        assert response.status_code == 200, response.json()
        return {row["name"] for row in response.json()["results"]}

    # then 15:00 UTC is 1 November in Singapore and 17:00 UTC is already 2 November
    assert names("created_after=2026-11-01&created_before=2026-11-01") == {"early"}
    assert names("created_after=2026-11-02") == {"late"}
    assert names("created_before=2026-10-31") == set()
    # and date-times are taken as given
    assert names("created_after=2026-11-01T16:00:00Z") == {"late"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("created_after=yesterday", "created_after"),
        ("created_after=", "created_after"),
        ("created_before=2026-13-01", "created_before"),
        ("created_after=2026-11-02&created_before=2026-11-01", "created_before"),
        ("http_method=PATCH", "http_method"),
        ("status=sleeping", "status"),
    ],
)
def test_bad_filters_answer_400_naming_the_parameter(api, query, field):
    response = api.get(f"{PROFILES}?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.django_db
def test_the_list_is_paginated(api):
    for number in range(5):
        create(api, name=f"p{number}")
    page = api.get(f"{PROFILES}?limit=2&offset=2").json()
    assert page["count"] == 5 and len(page["results"]) == 2
    assert page["next"] and page["previous"]


@pytest.mark.django_db
def test_ids_are_uuids_and_other_ids_are_not_found(api):
    answer = create(api)
    assert len(answer["id"]) == 36
    not_found = api.get(f"{PROFILES}1/")
    assert not_found.status_code == 404 and not_found.json() == {"detail": "Not found."}
    assert api.get(f"{PROFILES}00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.django_db
def test_event_types_list_the_catalogue_with_examples(api):
    response = api.get("/api/v1/event-types/?limit=100")
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()["results"]}
    assert set(rows) == {spec.code for spec in event_types.REGISTRY}
    otp = rows[event_types.OTP_SENT]
    assert otp["category"] == "otp" and otp["category_label"] == "OTP verification"
    assert otp["example"]["phone"].startswith("+") and otp["description"]
    only_alerts = api.get("/api/v1/event-types/?category=business_alert").json()["results"]
    assert {row["code"] for row in only_alerts} == {
        event_types.ALERT_BALANCE_LOW,
        event_types.ALERT_VERIFICATION_RATE_LOW,
    }


@pytest.mark.django_db
def test_event_types_refuse_an_unknown_category(api):
    response = api.get("/api/v1/event-types/?category=weather")
    assert response.status_code == 400 and "category" in response.json()


@pytest.mark.django_db
def test_pagination_is_bounded(api):
    create(api)
    page = api.get(f"{PROFILES}?limit=100000000000000000000&offset=100000000000000000000")
    assert page.status_code == 200
    assert page.json()["count"] == 1 and page.json()["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["offset=null", "limit=-1", "limit=²", "offset="])
def test_malformed_pagination_is_a_400_naming_the_parameter(api, query):
    response = api.get(f"{PROFILES}?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [query.split("=")[0]]


@pytest.mark.django_db
def test_enabling_an_abnormal_profile_resets_its_health_and_releases_held_deliveries(api, account):
    # given a profile that turned abnormal, with an event held for it meanwhile
    from callbacks.models import Delivery
    from callbacks.services.events import event_emit

    answer = create(api)
    CallbackProfile.objects.filter(pk=answer["id"]).update(
        status="abnormal",
        status_reason="failing since yesterday",
        consecutive_failures=12,
        abnormal_since=timezone.now(),
    )
    event_emit(account=account, type=event_types.OTP_SENT, data={"phone": "+14155550123"})
    assert Delivery.objects.get(profile_id=answer["id"]).state == Delivery.State.HELD
    # when the customer enables it again
    response = api.patch(f"{PROFILES}{answer['id']}/", {"status": "enabled"}, format="json")
    # then it is enabled with a clean streak, and the held delivery is due again
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["consecutive_failures"]) == ("enabled", 0)
    assert response.json()["abnormal_since"] is None and response.json()["status_reason"] == ""
    assert Delivery.objects.get(profile_id=answer["id"]).state == Delivery.State.PENDING
