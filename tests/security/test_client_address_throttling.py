"""Throttles count the real client address (X-Forwarded-For only behind TRUSTED_PROXY_COUNT proxies),
and admin sign-in is locked per address and per user name after repeated failures."""

from __future__ import annotations

import secrets

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GUESSES = 40
PASSWORD = "correct horse battery staple"


def _guess(client: APIClient, **meta) -> int:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer cbk_00000000_{secrets.token_urlsafe(32)}")
    return client.get("/api/v1/callback-profiles/", **meta).status_code


def test_a_forged_forwarded_for_header_does_not_escape_the_throttle():
    # given no proxy in front (the default): X-Forwarded-For is whatever the caller wrote
    client = APIClient()
    # when one address guesses keys with a different X-Forwarded-For each time
    answers = [
        _guess(client, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.0.{n // 250}.{n % 250}")
        for n in range(GUESSES)
    ]
    # then they all count against that one address
    assert answers.count(429) >= GUESSES - 20


def test_a_forged_header_cannot_get_a_victim_throttled():
    # given an attacker naming the victim's address in X-Forwarded-For until throttled
    client = APIClient()
    for _ in range(GUESSES):
        _guess(client, REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR="198.51.100.1")
    # then the victim, calling from its own address, is not throttled
    assert _guess(client, REMOTE_ADDR="198.51.100.1") == 401


def test_behind_one_trusted_proxy_the_address_the_proxy_saw_counts(settings):
    # given one proxy in front that appends the address it saw
    settings.TRUSTED_PROXY_COUNT = 1
    client = APIClient()
    # when a client guesses through the proxy, prepending a new fake address every time
    answers = [
        _guess(client, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9") for n in range(GUESSES)
    ]
    # then its real address is throttled, the fakes notwithstanding
    assert answers.count(429) >= GUESSES - 20
    # and another client behind the same proxy is not
    assert _guess(client, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.10") == 401


def _sign_in(client: Client, username: str, password: str, address: str):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def test_admin_sign_in_locks_a_user_name_after_repeated_failures(settings):
    # given a user, and a limit of 10 failures
    user = UserFactory()
    client = Client()
    # when someone tries 10 wrong passwords from several addresses
    answers = [
        _sign_in(client, user.username, f"wrong-{attempt}", f"203.0.113.{attempt}").status_code
        for attempt in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    # then even the right password is refused for a while, from any address, with the lockout explained
    locked = _sign_in(client, user.username, PASSWORD, "192.0.2.200")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Sign-in is locked for a while" in page
    assert "15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_admin_sign_in_locks_an_address_that_tries_many_user_names(settings):
    # given a real user and one address trying many made-up user names
    user = UserFactory()
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, f"guess{attempt}", "password", "203.0.113.50")
    # when that address then uses a real user's right password / then it is locked out
    assert _sign_in(client, user.username, PASSWORD, "203.0.113.50").status_code == 429
    # while the user signs in from elsewhere
    assert _sign_in(Client(), user.username, PASSWORD, "198.51.100.50").status_code == 302


def test_a_successful_sign_in_is_not_held_up_by_a_few_typos():
    user = UserFactory()
    client = Client()
    for attempt in range(3):
        _sign_in(client, user.username, f"typo-{attempt}", "198.51.100.7")
    assert _sign_in(client, user.username, PASSWORD, "198.51.100.7").status_code == 302
