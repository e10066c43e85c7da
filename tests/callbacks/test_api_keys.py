"""API keys: shown once, scoped, revocable, expiring; bad keys get 401 and, repeated, 429."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from bench.harness import wait_until
from callbacks.models import ApiKey
from callbacks.services.api_keys import api_key_create
from tests.conftest import api_client_for

KEYS = "/api/v1/api-keys/"
PROFILES = "/api/v1/callback-profiles/"


def client_with(raw_key: str, address: str = "127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.mark.django_db
def test_a_key_created_through_the_api_is_shown_once_and_works(api, account):
    # when a read-only key is created
    response = api.post(KEYS, {"name": "dashboard", "scopes": ["read"], "expires_in_days": 30}, format="json")
    # then the answer carries the full key once, and the key works for the account
    assert response.status_code == 201, response.json()
    created = response.json()
    raw_key = created["key"]
    assert raw_key.startswith(created["prefix"]) and created["scopes"] == ["read"] and created["active"] is True
    assert client_with(raw_key).get("/api/v1/account/").json()["id"] == str(account.pk)
    # and it is never shown again, neither in the list nor alone
    listing = api.get(KEYS).json()
    assert raw_key not in str(listing) and raw_key not in str(api.get(f"{KEYS}{created['id']}/").json())
    assert created["id"] in str(listing)
    assert "key" not in api.get(f"{KEYS}{created['id']}/").json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": ["admin"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2999-01-01T00:00:00Z", "expires_in_days": 3}, "expires_in_days"),
    ],
)
def test_bad_key_requests_name_the_field(api, body, field):
    response = api.post(KEYS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_a_revoked_key_gets_401(api, account):
    # given a key of the account
    api_key, raw_key = api_key_create(account=account, name="to revoke")
    assert client_with(raw_key).get(PROFILES).status_code == 200
    # when it is revoked through the API
    assert api.delete(f"{KEYS}{api_key.pk}/").status_code == 204
    # then it is refused with 401 and listed as revoked
    response = client_with(raw_key).get(PROFILES)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid, expired or revoked API key."
    row = next(row for row in api.get(KEYS).json()["results"] if row["id"] == str(api_key.pk))
    assert row["active"] is False and row["revoked_at"]


@pytest.mark.django_db
def test_an_expired_key_gets_401(account):
    api_key, raw_key = api_key_create(account=account, expires_at=timezone.now() + dt.timedelta(days=1))
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client_with(raw_key).get(PROFILES).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer cbk_nope_nope", "Basic dXNlcjpwYXNz", "Bearer "])
def test_unknown_keys_and_other_schemes_get_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(PROFILES)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db
def test_no_key_gets_401(client):
    assert client.get(PROFILES).status_code == 401


@pytest.mark.django_db
def test_a_read_only_key_reads_but_cannot_write(account):
    # given a read-only key
    reader = api_client_for(account, scopes=("read",))
    # then it reads, and every write is 403 naming the missing scope
    assert reader.get(PROFILES).status_code == 200
    assert reader.get("/api/v1/account/").status_code == 200
    writes = [
        reader.post(PROFILES, {"name": "x", "url": "http://127.0.0.1:9/x"}, format="json"),
        reader.patch("/api/v1/account/", {"name": "x"}, format="json"),
        reader.post(KEYS, {"scopes": ["read", "write"]}, format="json"),
    ]
    assert [response.status_code for response in writes] == [403, 403, 403]
    assert "write" in writes[0].json()["detail"]


@pytest.mark.django_db
def test_a_write_only_key_cannot_read(account):
    writer = api_client_for(account, scopes=("write",))
    assert writer.get(PROFILES).status_code == 403


@pytest.mark.django_db
def test_repeated_bad_keys_from_one_address_get_429_without_slowing_good_keys(settings, account):
    # given a limit of 3 failed authentications a minute per client address
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth_failure": "3/min"}}
    _, good_key = api_key_create(account=account)
    attacker = client_with("cbk_guess_0000", address="203.0.113.9")
    # when one address keeps sending bad keys
    statuses = [attacker.get(PROFILES).status_code for _ in range(5)]
    # then the first three are 401 and the rest 429 with a Retry-After
    assert statuses == [401, 401, 401, 429, 429]
    throttled = attacker.get(PROFILES)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    # and a good key works from that address and from any other, as many times as it likes
    assert [client_with(good_key, address="203.0.113.9").get(PROFILES).status_code for _ in range(5)] == [200] * 5
    # and another address's bad key still gets its plain 401
    assert client_with("cbk_guess_0000", address="198.51.100.4").get(PROFILES).status_code == 401


@pytest.mark.django_db
def test_last_use_of_a_key_is_recorded(account):
    api_key, raw_key = api_key_create(account=account)
    client_with(raw_key).get(PROFILES)
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


@pytest.mark.django_db
def test_a_key_revoked_by_another_process_stops_working_within_the_cache_time(account, settings):
    # given a key this process has just used, kept for API_KEY_CACHE_S
    settings.API_KEY_CACHE_S = 60
    api_key, raw_key = api_key_create(account=account, name="elsewhere")
    assert client_with(raw_key).get(PROFILES).status_code == 200

    # when another process revokes it (straight in the database, not through this process)
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())

    # then this process still trusts it until its copy is older than API_KEY_CACHE_S, and refuses it after
    assert client_with(raw_key).get(PROFILES).status_code == 200
    settings.API_KEY_CACHE_S = 0.05
    assert wait_until(lambda: client_with(raw_key).get(PROFILES).status_code == 401, timeout_s=5)


@pytest.mark.django_db
def test_a_request_cannot_change_the_kept_key_for_the_next(account):
    # given a key used once, so this process keeps it
    _, raw_key = api_key_create(account=account, name="kept")
    assert client_with(raw_key).get(PROFILES).status_code == 200
    from callbacks.services.api_keys import api_key_authenticate

    # when one request's copy of the key and account is changed
    first = api_key_authenticate(raw_key=raw_key)
    first.scopes = ["read"]
    first.account.name = "changed"

    # then the next request sees the stored values
    second = api_key_authenticate(raw_key=raw_key)
    assert second.scopes == ["read", "write"] and second.account.name == account.name
