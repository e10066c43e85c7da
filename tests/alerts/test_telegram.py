"""Telegram binding and sending, end to end through python-telegram-bot and a fake Bot API on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from alerts.telegram import (
    telegram_binding_link,
    telegram_binding_reacquire,
    telegram_binding_state,
    telegram_message_send,
)
from callbacks import clock
from tests.alerts.conftest import WEBHOOK_SECRET
from tests.alerts.fake_telegram import BOT_USERNAME

pytestmark = pytest.mark.django_db


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["start"][0]


def _webhook_post(client, update: dict, secret: str | None = WEBHOOK_SECRET):
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret} if secret is not None else {}
    return client.post("/telegram/webhook/", data=update, content_type="application/json", **headers)


def test_start_link_is_a_deep_link_with_a_url_safe_token(account, fake_telegram):
    link = telegram_binding_link(account=account)
    token = _token(link)
    assert link == f"https://t.me/{BOT_USERNAME}?start={token}"
    assert len(token) <= 64
    assert all(char.isalnum() or char in "-_" for char in token)
    # the same link is shown until it is used or replaced
    assert telegram_binding_link(account=account) == link


def test_start_binds_the_chat_and_answers_in_it(
    client, account, fake_telegram, tasks_inline, django_capture_on_commit_callbacks
):
    # given the START BOT link of the account
    token = _token(telegram_binding_link(account=account))
    # when Telegram delivers "/start <token>" from a chat to the webhook
    update = fake_telegram.user_writes(chat_id=4242, text=f"/start {token}", username="ada")
    with django_capture_on_commit_callbacks(execute=True):
        response = _webhook_post(client, update)
    # then the chat is bound, the screen shows who, and the bot answered in that chat
    assert response.status_code == 200
    state = telegram_binding_state(account=account)
    assert (state.bound, state.chat_id, state.chat_label) == (True, 4242, "@ada")
    assert [(m.chat_id, m.text) for m in fake_telegram.messages] == [
        (4242, f"Bound: alerts of {account.name} will be sent to this chat.")
    ]
    # and the token was used up: no link is shown until a writer issues a new one
    assert telegram_binding_state(account=account, show_link=True).start_link is None
    assert _token(telegram_binding_link(account=account)) != token


def test_a_used_token_is_refused(client, account, fake_telegram, tasks_inline, django_capture_on_commit_callbacks):
    token = _token(telegram_binding_link(account=account))
    with django_capture_on_commit_callbacks(execute=True):
        _webhook_post(client, fake_telegram.user_writes(chat_id=1, text=f"/start {token}"))
        # when another chat presents the same token
        _webhook_post(client, fake_telegram.user_writes(chat_id=2, text=f"/start {token}", username="mallory"))
    # then the first chat stays bound and the second is told the link is no longer valid
    assert telegram_binding_state(account=account).chat_id == 1
    assert fake_telegram.messages[-1].chat_id == 2
    assert fake_telegram.messages[-1].text.startswith("This link is no longer valid")


def test_an_expired_token_is_refused(client, account, fake_telegram, tasks_inline, django_capture_on_commit_callbacks):
    token = _token(telegram_binding_link(account=account))
    clock.advance(seconds=timedelta(days=8).total_seconds())
    with django_capture_on_commit_callbacks(execute=True):
        _webhook_post(client, fake_telegram.user_writes(chat_id=7, text=f"/start {token}"))
    assert telegram_binding_state(account=account).bound is False
    assert fake_telegram.messages[-1].text.startswith("This link is no longer valid")


def test_wrong_or_missing_secret_header_is_refused(client, account, fake_telegram, tasks_inline):
    token = _token(telegram_binding_link(account=account))
    update = fake_telegram.user_writes(chat_id=9, text=f"/start {token}")
    assert _webhook_post(client, update, secret="guessed").status_code == 403
    assert _webhook_post(client, update, secret=None).status_code == 403
    assert telegram_binding_state(account=account).bound is False
    assert fake_telegram.messages == []


def test_webhook_is_closed_when_no_secret_is_configured(client, account, fake_telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    update = fake_telegram.user_writes(chat_id=9, text="/start anything")
    assert _webhook_post(client, update, secret="").status_code == 403


def test_reacquire_unbinds_the_old_chat_and_only_the_new_token_binds(
    client, account, fake_telegram, tasks_inline, django_capture_on_commit_callbacks
):
    # given a bound chat
    old_token = _token(telegram_binding_link(account=account))
    with django_capture_on_commit_callbacks(execute=True):
        _webhook_post(client, fake_telegram.user_writes(chat_id=100, text=f"/start {old_token}"))
    issued = _token(telegram_binding_link(account=account))
    # when the user reacquires
    new_token = _token(telegram_binding_reacquire(account=account))
    # then nobody is bound, the earlier link is dead and the new one binds the new chat
    assert telegram_binding_state(account=account).bound is False
    assert new_token not in (old_token, issued)
    with django_capture_on_commit_callbacks(execute=True):
        _webhook_post(client, fake_telegram.user_writes(chat_id=300, text=f"/start {issued}"))
        _webhook_post(client, fake_telegram.user_writes(chat_id=200, text=f"/start {new_token}", username="bob"))
    state = telegram_binding_state(account=account)
    assert (state.chat_id, state.chat_label) == (200, "@bob")
    assert fake_telegram.messages[-2].text.startswith("This link is no longer valid")


def test_sending_waits_out_429_retry_after(fake_telegram):
    # given Telegram's flood control answers the first two sends with 429
    fake_telegram.floods = [3, 1]
    waits: list[float] = []
    # when a message is sent
    result = telegram_message_send(chat_id=555, text="Balance low", sleep=waits.append)
    # then it waited as told and the message arrived on the third try
    assert result.ok is True
    assert result.attempts == 3
    assert waits == [3.0, 1.0]
    assert [(m.chat_id, m.text) for m in fake_telegram.messages] == [(555, "Balance low")]


def test_sending_gives_up_after_bounded_attempts(fake_telegram):
    fake_telegram.floods = [1] * 10
    waits: list[float] = []
    result = telegram_message_send(chat_id=555, text="x", sleep=waits.append, max_attempts=3)
    assert (result.ok, result.attempts, len(waits)) == (False, 3, 2)
    assert "Flood control" in result.error
    assert fake_telegram.messages == []


def test_telegram_poll_binds_from_get_updates(account, fake_telegram):
    token = _token(telegram_binding_link(account=account))
    fake_telegram.user_writes(chat_id=8080, text=f"/start {token}", first_name="Grace", username="")
    out = StringIO()
    call_command("telegram_poll", "--once", stdout=out)
    state = telegram_binding_state(account=account)
    assert (state.chat_id, state.chat_label) == (8080, "Grace")
    assert fake_telegram.messages[-1].text == f"Bound: alerts of {account.name} will be sent to this chat."
    assert "getUpdates" in fake_telegram.methods_called()


def test_telegram_webhook_set_registers_url_and_secret(fake_telegram, settings):
    settings.SITE_URL = "https://callbacks.acme.test"
    out = StringIO()
    call_command("telegram_webhook", "set", stdout=out)
    assert fake_telegram.webhook["url"] == "https://callbacks.acme.test/telegram/webhook/"
    assert fake_telegram.webhook["secret_token"] == WEBHOOK_SECRET
    assert "Webhook set" in out.getvalue()
    call_command("telegram_webhook", "info", stdout=out)
    assert "https://callbacks.acme.test/telegram/webhook/" in out.getvalue()


def test_telegram_webhook_set_needs_the_secret(fake_telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    with pytest.raises(CommandError, match="TELEGRAM_WEBHOOK_SECRET"):
        call_command("telegram_webhook", "set")


def test_start_without_a_token_explains_and_other_messages_are_ignored(
    client, account, fake_telegram, tasks_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _webhook_post(client, fake_telegram.user_writes(chat_id=11, text="/start"))
        _webhook_post(client, fake_telegram.user_writes(chat_id=11, text="hello bot"))
    assert [m.text for m in fake_telegram.messages] == [
        "To receive alerts here, open the START BOT link shown on the alert settings screen."
    ]
    assert telegram_binding_state(account=account).bound is False
