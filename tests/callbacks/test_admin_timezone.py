"""The screens show times in the account's time zone, as its e-mails and reports do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from callbacks.services.api_keys import api_key_create
from tests.factories import AccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_the_key_list_shows_when_a_key_was_made_in_the_accounts_time_zone(client):
    # given a Kolkata account (UTC+5:30) with a key made at 10:00 UTC
    account = AccountFactory(timezone="Asia/Kolkata")
    membership = MembershipFactory(account=account)
    api_key, _ = api_key_create(account=account, name="billing")
    api_key.created_at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    api_key.save(update_fields=["created_at"])
    client.force_login(membership.user)
    # when its member opens the API keys screen
    response = client.get(reverse("admin:callbacks_apikey_changelist"))
    # then the key's time is Kolkata's
    assert response.status_code == 200
    page = response.content.decode()
    assert "2026-11-23 15:30" in page
    assert "2026-11-23 10:00" not in page
