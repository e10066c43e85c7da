"""A key creates keys only within its own scopes and lifetime; revoking it revokes what it created."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from callbacks.services.api_keys import api_key_create

pytestmark = pytest.mark.django_db


def _client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_a_short_lived_key_cannot_mint_a_key_that_outlives_it(account):
    # given a write key that expires in a day
    parent, raw = api_key_create(
        account=account, scopes=["read", "write"], expires_at=timezone.now() + timedelta(days=1)
    )
    client = _client(raw)
    # when it asks for a key that lives longer / then 400 naming expires_at
    refused = client.post("/api/v1/api-keys/", {"expires_in_days": 30}, format="json")
    assert refused.status_code == 400
    assert "outlive" in refused.json()["expires_at"][0]
    # and a key without an expiry of its own expires with its parent
    child = client.post("/api/v1/api-keys/", {"name": "child"}, format="json")
    assert child.status_code == 201
    assert child.json()["expires_at"] == client.get(f"/api/v1/api-keys/{parent.pk}/").json()["expires_at"]


def test_a_key_cannot_grant_scopes_it_lacks(account):
    # given a key with write only (it may create keys, but cannot read)
    _, raw = api_key_create(account=account, scopes=["write"])
    refused = _client(raw).post("/api/v1/api-keys/", {"scopes": ["read", "write"]}, format="json")
    assert refused.status_code == 400
    assert "own scopes" in refused.json()["scopes"][0]
    # and by default the new key gets exactly the parent's scopes
    created = _client(raw).post("/api/v1/api-keys/", {}, format="json")
    assert created.json()["scopes"] == ["write"]


def test_revoking_a_key_revokes_the_keys_it_created_and_theirs(account):
    # given a key, a child it created, and a grandchild the child created
    parent, raw = api_key_create(account=account)
    child_raw = _client(raw).post("/api/v1/api-keys/", {"name": "child"}, format="json").json()["key"]
    grandchild_raw = _client(child_raw).post("/api/v1/api-keys/", {"name": "grandchild"}, format="json").json()["key"]
    _, other_raw = api_key_create(account=account, name="independent")
    assert _client(grandchild_raw).get("/api/v1/account/").status_code == 200
    # when the parent is revoked (by another key of the account)
    assert _client(other_raw).delete(f"/api/v1/api-keys/{parent.pk}/").status_code == 204
    # then every descendant stops working, and the independent key goes on
    assert _client(child_raw).get("/api/v1/account/").status_code == 401
    assert _client(grandchild_raw).get("/api/v1/account/").status_code == 401
    assert _client(other_raw).get("/api/v1/account/").status_code == 200
