"""Only owners, admins and write keys see or issue a Telegram START BOT link; reading never issues one."""

from __future__ import annotations

import pytest
from django.test import Client

from alerts.models import AlertRecipients
from callbacks.models import Membership
from tests.conftest import api_client_for
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

BOT = "callback_center_test_bot"


@pytest.fixture(autouse=True)
def bot_configured(settings):
    settings.TELEGRAM_BOT_USERNAME = BOT


def _token(account) -> str | None:
    recipients = AlertRecipients.objects.filter(account=account).first()
    return recipients.telegram_token if recipients else None


def _screen_client(account, role: str) -> Client:
    membership = MembershipFactory(account=account, role=role)
    client = Client()
    client.force_login(membership.user)
    return client


def test_a_read_key_never_gets_a_start_token(account):
    # given a read-only key
    reader = api_client_for(account, scopes=("read",))
    # when it reads the alert settings twice
    first = reader.get("/api/v1/alert-settings/").json()["telegram"]
    reader.get("/api/v1/alert-settings/")
    # then no link is shown and no token was written
    assert first["start_link"] is None
    assert _token(account) is None
    # and it cannot issue one either
    assert reader.post("/api/v1/alert-settings/telegram/link/").status_code == 403
    assert _token(account) is None


def test_a_write_key_issues_the_link_and_reading_keeps_it(account):
    writer = api_client_for(account)
    # reading issues nothing
    assert writer.get("/api/v1/alert-settings/").json()["telegram"]["start_link"] is None
    assert _token(account) is None
    # issuing answers the link, and the same link is read back while it is valid
    issued = writer.post("/api/v1/alert-settings/telegram/link/")
    assert issued.status_code == 200
    link = issued.json()["telegram"]["start_link"]
    assert link == f"https://t.me/{BOT}?start={_token(account)}"
    assert writer.get("/api/v1/alert-settings/").json()["telegram"]["start_link"] == link
    # but a read key of the same account still does not see it
    assert (
        api_client_for(account, scopes=("read",)).get("/api/v1/alert-settings/").json()["telegram"]["start_link"]
        is None
    )


def test_a_viewer_sees_no_link_on_the_screen_and_cannot_issue_one(account):
    # given an issued token and a viewer of the account
    api_client_for(account).post("/api/v1/alert-settings/telegram/link/")
    token = _token(account)
    viewer = _screen_client(account, Membership.Role.VIEWER)
    # when the viewer opens Configure events and the binding the page polls
    page = viewer.get("/admin/alerts/configure/").content.decode()
    polled = viewer.get("/admin/alerts/configure/telegram/").json()
    # then the token appears nowhere
    assert token not in page and "start-bot" not in page
    assert polled["start_link"] is None
    # and posting to issue or reacquire changes nothing
    viewer.post("/admin/alerts/configure/telegram/link/")
    viewer.post("/admin/alerts/configure/telegram/reacquire/")
    assert _token(account) == token


def test_an_owner_issues_the_link_from_the_screen(account):
    owner = _screen_client(account, Membership.Role.OWNER)
    page = owner.get("/admin/alerts/configure/").content.decode()
    assert 'data-testid="telegram-link"' in page
    assert _token(account) is None
    # when the owner presses "Get START BOT link"
    owner.post("/admin/alerts/configure/telegram/link/")
    # then the page shows the link with the new token
    page = owner.get("/admin/alerts/configure/").content.decode()
    assert f"https://t.me/{BOT}?start={_token(account)}" in page
