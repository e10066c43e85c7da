"""Binding a Telegram chat to an account: START BOT links, single-use tokens, reacquire, state."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from alerts.models import AlertRecipients
from alerts.selectors import alert_recipients_get
from callbacks import clock
from callbacks.models import Account

logger = logging.getLogger(__name__)

TOKEN_BYTES = 24  # 32 url-safe characters; Telegram allows up to 64 in a start parameter
TOKEN_MAX_CHARS = 64
TOKEN_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class TelegramBindingState:
    """What the screen shows: is a chat bound, who, since when, and the link to bind (another) one."""

    bound: bool
    chat_id: int | None
    chat_label: str
    bound_at: datetime | None
    bot_username: str
    start_link: str | None
    token_expires_at: datetime | None


def _start_link(token: str) -> str | None:
    """None while no bot is configured: a link without a bot name leads nowhere."""
    if not settings.TELEGRAM_BOT_USERNAME:
        return None
    return f"https://t.me/{settings.TELEGRAM_BOT_USERNAME}?start={token}"


def _token_issue(recipients: AlertRecipients, *, now: datetime) -> None:
    recipients.telegram_token = secrets.token_urlsafe(TOKEN_BYTES)
    recipients.telegram_token_expires_at = now + TOKEN_LIFETIME


def telegram_binding_link(*, account: Account, now: datetime | None = None) -> str | None:
    """The START BOT link `https://t.me/<bot>?start=<token>`; a new token when there is none valid."""
    now = now or clock.now()
    with transaction.atomic():
        alert_recipients_get(account=account)
        recipients = AlertRecipients.objects.select_for_update().get(account=account)
        if not recipients.telegram_token or recipients.telegram_token_expires_at <= now:
            _token_issue(recipients, now=now)
            recipients.save(update_fields=["telegram_token", "telegram_token_expires_at", "updated_at"])
    return _start_link(recipients.telegram_token)


def telegram_binding_reacquire(*, account: Account, now: datetime | None = None) -> str | None:
    """Unbind the current chat and issue a new token; returns the new START BOT link."""
    now = now or clock.now()
    with transaction.atomic():
        alert_recipients_get(account=account)
        recipients = AlertRecipients.objects.select_for_update().get(account=account)
        previous_chat_id = recipients.telegram_chat_id
        recipients.telegram_chat_id = None
        recipients.telegram_chat_label = ""
        recipients.telegram_bound_at = None
        _token_issue(recipients, now=now)
        recipients.save()
    logger.info("telegram.binding_reacquired", extra={"account_id": str(account.pk), "unbound_chat": previous_chat_id})
    return _start_link(recipients.telegram_token)


def telegram_binding_state(*, account: Account, now: datetime | None = None) -> TelegramBindingState:
    """Who is bound and the current START BOT link (issuing a token if needed)."""
    link = telegram_binding_link(account=account, now=now)
    recipients = AlertRecipients.objects.get(account=account)
    return TelegramBindingState(
        bound=recipients.telegram_chat_id is not None,
        chat_id=recipients.telegram_chat_id,
        chat_label=recipients.telegram_chat_label,
        bound_at=recipients.telegram_bound_at,
        bot_username=settings.TELEGRAM_BOT_USERNAME,
        start_link=link,
        token_expires_at=recipients.telegram_token_expires_at,
    )


def telegram_binding_complete(
    *, token: str, chat_id: int, chat_label: str, now: datetime | None = None
) -> Account | None:
    """Bind `chat_id` to the account whose valid token this is; the token is used up. None if refused."""
    now = now or clock.now()
    if not token or len(token) > TOKEN_MAX_CHARS:
        return None
    with transaction.atomic():
        recipients = (
            AlertRecipients.objects.select_for_update()
            .select_related("account")
            .filter(telegram_token=token, telegram_token_expires_at__gt=now)
            .first()
        )
        if recipients is None:
            logger.info("telegram.binding_refused", extra={"chat_id": chat_id})
            return None
        recipients.telegram_chat_id = chat_id
        recipients.telegram_chat_label = chat_label[:200]
        recipients.telegram_bound_at = now
        recipients.telegram_token = None
        recipients.telegram_token_expires_at = None
        recipients.save()
    logger.info("telegram.bound", extra={"account_id": str(recipients.account_id), "chat_id": chat_id})
    return recipients.account
