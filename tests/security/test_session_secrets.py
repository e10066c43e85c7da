"""Shown-once secrets wait for their page in the session encrypted, never in the clear."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client

from callbacks.admin_views import reveal
from callbacks.models import CallbackProfile, Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _session_dump() -> str:
    """Every session as the database holds it, decoded (signed is not secret)."""
    return " ".join(repr(SessionStore().decode(row.session_data)) for row in Session.objects.all())


@pytest.fixture
def owner_client(account) -> Client:
    membership = MembershipFactory(account=account, role=Membership.Role.OWNER)
    client = Client()
    client.force_login(membership.user)
    return client


def test_a_new_api_key_waits_encrypted_in_the_session(owner_client):
    # when an owner creates an API key in the screens
    created = owner_client.post(
        "/admin/callbacks/apikey/add/", {"name": "ci", "scope_choices": ["read", "write"], "expires_in_days": ""}
    )
    assert created.status_code == 302
    stored = _session_dump()
    # then the page shows the key once
    page = owner_client.get(created["Location"]).content.decode()
    raw_key = re.search(r"cbk_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}", page).group(0)
    # and the session never held it in the clear, nor holds it now
    assert "callback_center_reveal" in stored
    assert raw_key not in stored and raw_key.split("_", 2)[2] not in stored
    assert raw_key not in _session_dump()
    assert raw_key not in owner_client.get(created["Location"]).content.decode()


def test_a_new_signing_secret_waits_encrypted_and_expires(owner_client, account, monkeypatch):
    # when an owner creates a profile, whose new signing secret is shown once
    created = owner_client.post(
        "/admin/callbacks/callbackprofile/add/",
        {
            "name": "Orders",
            "url": "http://127.0.0.1:9/orders",
            "http_method": "POST",
            "sign_standard_webhooks": "on",
            "body_type": "json",
            "response_contract": "http",
            "batch_max_size": 1,
            "batch_max_wait_ms": 0,
            "connect_timeout_s": 5,
            "response_timeout_s": 60,
            "max_in_flight": 10,
        },
    )
    assert created.status_code == 302
    secret = CallbackProfile.objects.get(account=account).signing_secret.removeprefix("whsec_")
    # then the session holds it only encrypted
    stored = _session_dump()
    assert "callback_center_reveal" in stored and secret not in stored
    # and a reveal page loaded after the time limit shows nothing
    monkeypatch.setattr(reveal, "REVEAL_TTL_S", -1)
    assert secret not in owner_client.get(created["Location"]).content.decode()
