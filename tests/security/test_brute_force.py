"""Guessing API keys is throttled per client address; callers with a valid key are never slowed."""

from __future__ import annotations

import secrets

import pytest
from rest_framework.test import APIClient

from callbacks.services.api_keys import api_key_create

GUESSES = 60


def guess(client: APIClient, address: str, key: str) -> int:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client.get("/api/v1/callback-profiles/", REMOTE_ADDR=address).status_code


@pytest.mark.django_db
def test_guessing_keys_from_one_address_is_cut_off_with_429(account, settings):
    # given the default rate of failed authentications (20 a minute) and a real key's prefix
    _, real_key = api_key_create(account=account)
    prefix = real_key.rsplit("_", 1)[0]
    client = APIClient()
    # when one address tries many keys
    answers = [guess(client, "203.0.113.7", f"{prefix}_{secrets.token_urlsafe(32)}") for _ in range(GUESSES)]
    # then at most the allowed number are even checked; the rest are refused with 429
    assert answers.count(401) <= 20
    assert answers.count(429) >= GUESSES - 20
    assert set(answers) <= {401, 429}
    # and the real key is not among the guesses' luck: a 429 answer carries when to retry
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {prefix}_wrong")
    throttled = client.get("/api/v1/callback-profiles/", REMOTE_ADDR="203.0.113.7")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0


@pytest.mark.django_db
def test_the_valid_key_still_works_while_guessers_are_throttled(account):
    # given an address that has been guessing long enough to be throttled
    client = APIClient()
    for _ in range(GUESSES):
        guess(client, "198.51.100.9", "cbk_00000000_" + secrets.token_urlsafe(32))
    # when a caller with a valid key calls from that same address / then it is served
    _, real_key = api_key_create(account=account)
    assert guess(client, "198.51.100.9", real_key) == 200
    # and another address that guesses starts with its own allowance
    assert guess(client, "192.0.2.45", "cbk_00000000_wrong") == 401
