"""Account A's key never sees or touches account B's data: another account's object is a 404."""

from __future__ import annotations

import pytest

from callbacks.models import ApiKey, CallbackProfile
from callbacks.services.api_keys import api_key_create
from tests.factories import CallbackProfileFactory

PROFILES = "/api/v1/callback-profiles/"


@pytest.mark.django_db
def test_another_accounts_profile_is_not_found_for_every_verb(api, other_account):
    # given a profile of account B
    theirs = CallbackProfileFactory(account=other_account, name="Theirs")
    path = f"{PROFILES}{theirs.pk}/"
    # when account A's key reads, replaces, changes, rotates or deletes it
    answers = [
        api.get(path),
        api.put(path, {"name": "Mine now", "url": "http://127.0.0.1:9/x"}, format="json"),
        api.patch(path, {"name": "Mine now"}, format="json"),
        api.post(f"{path}rotate-secret/"),
        api.delete(path),
    ]
    # then every answer is a 404, and the profile is untouched
    assert [answer.status_code for answer in answers] == [404] * 5
    theirs_now = CallbackProfile.objects.get(pk=theirs.pk)
    assert theirs_now.name == "Theirs" and theirs_now.signing_secret == theirs.signing_secret


@pytest.mark.django_db
def test_lists_show_only_the_callers_profiles(api, account, other_account):
    mine = CallbackProfileFactory(account=account, name="Shared name")
    CallbackProfileFactory(account=other_account, name="Shared name")
    results = api.get(f"{PROFILES}?name=Shared").json()["results"]
    assert [row["id"] for row in results] == [str(mine.pk)]


@pytest.mark.django_db
def test_a_created_profile_belongs_to_the_callers_account(api, other_api, account):
    response = api.post(PROFILES, {"name": "Mine", "url": "http://127.0.0.1:9/x"}, format="json")
    assert CallbackProfile.objects.get(pk=response.json()["id"]).account == account
    assert other_api.get(PROFILES).json()["count"] == 0


@pytest.mark.django_db
def test_another_accounts_api_keys_are_not_found_and_cannot_be_revoked(api, other_account):
    their_key, _ = api_key_create(account=other_account, name="theirs")
    assert api.get(f"/api/v1/api-keys/{their_key.pk}/").status_code == 404
    assert api.delete(f"/api/v1/api-keys/{their_key.pk}/").status_code == 404
    assert ApiKey.objects.get(pk=their_key.pk).revoked_at is None
    assert str(their_key.pk) not in str(api.get("/api/v1/api-keys/").json())


@pytest.mark.django_db
def test_the_account_endpoint_answers_the_callers_account_only(api, other_api, account, other_account):
    assert api.get("/api/v1/account/").json()["id"] == str(account.pk)
    assert other_api.get("/api/v1/account/").json()["id"] == str(other_account.pk)
    api.patch("/api/v1/account/", {"name": "Renamed A"}, format="json")
    other_account.refresh_from_db()
    assert other_account.name != "Renamed A"
