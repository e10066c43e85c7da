"""Everything Telegram: binding a chat to an account, acting on the bot's updates, sending messages.

Binding: an owner or admin (a write key in the API) issues a single-use START BOT link
`https://t.me/<bot>?start=<token>`; the bot receives `/start <token>` (webhook or polling) and binds
that chat. Reading the binding never issues a token, and only writers are ever shown one.
Sending goes through python-telegram-bot, waiting out Telegram's 429 `retry_after`. The library is
imported when first used, not when Django starts: every web and cluster process loads this module
(through the admin), and most never talk to Telegram.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import transaction

from alerts.enqueue import task_enqueue_on_commit
from alerts.models import AlertRecipients
from alerts.selectors import alert_recipients_get
from callbacks import clock
from callbacks.models import Account

if TYPE_CHECKING:
    from telegram import Bot, Update
    from telegram.error import RetryAfter

logger = logging.getLogger(__name__)

T = TypeVar("T")

# --- Binding ------------------------------------------------------------------------------------

TOKEN_BYTES = 24  # 32 url-safe characters; Telegram allows up to 64 in a start parameter
TOKEN_MAX_CHARS = 64
TOKEN_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class TelegramBindingState:
    """What the screen shows: is a chat bound, who, since when, and (to writers only) the link to bind one."""

    bound: bool
    chat_id: int | None
    chat_label: str
    bound_at: datetime | None
    bot_username: str
    start_link: str | None
    token_expires_at: datetime | None


def _start_link(token: str | None) -> str | None:
    """None while no bot is configured: a link without a bot name leads nowhere."""
    if not token or not settings.TELEGRAM_BOT_USERNAME:
        return None
    return f"https://t.me/{settings.TELEGRAM_BOT_USERNAME}?start={token}"


def _token_issue(recipients: AlertRecipients, *, now: datetime) -> None:
    recipients.telegram_token = secrets.token_urlsafe(TOKEN_BYTES)
    recipients.telegram_token_expires_at = now + TOKEN_LIFETIME


def _token_valid(recipients: AlertRecipients, *, now: datetime) -> bool:
    return bool(recipients.telegram_token) and recipients.telegram_token_expires_at > now


def telegram_binding_link(*, account: Account, now: datetime | None = None) -> str | None:
    """Issue the START BOT link (a new token unless a valid one exists). For owners, admins and write keys only."""
    now = now or clock.now()
    with transaction.atomic():
        alert_recipients_get(account=account)
        recipients = AlertRecipients.objects.select_for_update().get(account=account)
        if not _token_valid(recipients, now=now):
            _token_issue(recipients, now=now)
            recipients.save(update_fields=["telegram_token", "telegram_token_expires_at", "updated_at"])
    logger.info("telegram.link_issued", extra={"account_id": str(account.pk)})
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


def telegram_binding_state(
    *, account: Account, show_link: bool = False, now: datetime | None = None
) -> TelegramBindingState:
    """Who is bound; the current START BOT link only when `show_link` (a writer asks) and one is valid.

    Reads only: a token is issued by `telegram_binding_link`, never by looking.
    """
    now = now or clock.now()
    recipients = AlertRecipients.objects.filter(account=account).first()
    if recipients is None:
        return TelegramBindingState(False, None, "", None, settings.TELEGRAM_BOT_USERNAME, None, None)
    valid = show_link and _token_valid(recipients, now=now)
    return TelegramBindingState(
        bound=recipients.telegram_chat_id is not None,
        chat_id=recipients.telegram_chat_id,
        chat_label=recipients.telegram_chat_label,
        bound_at=recipients.telegram_bound_at,
        bot_username=settings.TELEGRAM_BOT_USERNAME,
        start_link=_start_link(recipients.telegram_token) if valid else None,
        token_expires_at=recipients.telegram_token_expires_at if valid else None,
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


# --- Bot updates ----------------------------------------------------------------------------------

START_COMMAND = "/start"
WEBHOOK_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class BotReply:
    chat_id: int
    text: str


def _chat_label(update: Update) -> str:
    user = update.effective_user
    chat = update.effective_chat
    if user and user.username:
        return f"@{user.username}"
    if user:
        return user.full_name
    return chat.title or chat.full_name or str(chat.id)


def telegram_update_handle(update_data: dict[str, Any]) -> BotReply | None:
    """Act on one Bot API update; returns the answer to send to the chat, if any."""
    from telegram import Update

    update = Update.de_json(update_data, None)
    message = update.effective_message if update else None
    if message is None or not message.text or update.effective_chat is None:
        return None
    chat_id = update.effective_chat.id
    command, _, argument = message.text.strip().partition(" ")
    # In groups the command may be addressed as /start@<bot>.
    if command.split("@", 1)[0] != START_COMMAND:
        return None
    token = argument.strip()
    if not token:
        return BotReply(chat_id, "To receive alerts here, open the START BOT link shown on the alert settings screen.")
    account = telegram_binding_complete(token=token, chat_id=chat_id, chat_label=_chat_label(update))
    if account is None:
        return BotReply(
            chat_id,
            "This link is no longer valid: it was already used, replaced or has expired. "
            "Ask an owner or admin of the account for a new START BOT link.",
        )
    return BotReply(chat_id, f"Bound: alerts of {account.name} will be sent to this chat.")


def telegram_webhook_receive(*, secret_token: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """One pushed update: check the secret-token header, act, queue the reply. Returns (status, answer)."""
    expected = settings.TELEGRAM_WEBHOOK_SECRET
    if not expected or not hmac.compare_digest(secret_token.encode(), expected.encode()):
        logger.info("telegram.webhook_refused", extra={"reason": "secret token" if expected else "not configured"})
        return 403, {"detail": "Wrong or missing secret token."}
    try:
        update = json.loads(body)
    except ValueError:
        return 400, {"detail": "The body is not JSON."}
    if not isinstance(update, dict):
        return 400, {"detail": "The body is not a Telegram update."}
    reply = telegram_update_handle(update)
    if reply is not None:
        task_enqueue_on_commit("alerts.tasks.telegram_reply_send", reply.chat_id, reply.text)
    return 200, {"ok": True}


# --- Sending --------------------------------------------------------------------------------------

MAX_ATTEMPTS = 5
MAX_RETRY_AFTER_S = 60.0
NETWORK_BACKOFF_S = 2.0
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"


@dataclass(frozen=True)
class TelegramResult:
    ok: bool
    attempts: int
    message_id: int | None = None
    error: str = ""


def telegram_is_configured() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)


def telegram_bot() -> Bot:
    """A Bot for the configured token, talking to TELEGRAM_API_BASE_URL (Telegram's own by default)."""
    from telegram import Bot

    base_url = settings.TELEGRAM_API_BASE_URL or DEFAULT_API_BASE_URL
    return Bot(token=settings.TELEGRAM_BOT_TOKEN, base_url=base_url)


def telegram_call(call: Callable[[Bot], Awaitable[T]]) -> T:
    """Run one Bot API conversation, e.g. `telegram_call(lambda bot: bot.get_webhook_info())`, from sync code."""

    async def run() -> T:
        async with telegram_bot() as bot:
            return await call(bot)

    return asyncio.run(run())


def _retry_after_s(flood: RetryAfter) -> float:
    # PTB 22 warns that `retry_after` becomes a timedelta; accept either without the warning.
    from telegram.warnings import PTBDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        retry_after = flood.retry_after
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


def telegram_message_send(
    *, chat_id: int, text: str, sleep: Callable[[float], None] = time.sleep, max_attempts: int = MAX_ATTEMPTS
) -> TelegramResult:
    """Send `text` to `chat_id`; on 429 wait `retry_after` (bounded) and try again. Never raises."""
    if not telegram_is_configured():
        return TelegramResult(ok=False, attempts=0, error="TELEGRAM_BOT_TOKEN is not set")
    from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

    async def send() -> TelegramResult:
        error = ""
        async with telegram_bot() as bot:
            for attempt in range(1, max_attempts + 1):
                try:
                    message = await bot.send_message(chat_id=chat_id, text=text, disable_web_page_preview=True)
                    return TelegramResult(ok=True, attempts=attempt, message_id=message.message_id)
                except RetryAfter as flood:
                    wait_s = min(_retry_after_s(flood), MAX_RETRY_AFTER_S)
                    logger.info("telegram.retry_after", extra={"chat_id": chat_id, "wait_s": wait_s})
                    error = str(flood)
                except (BadRequest, Forbidden, InvalidToken) as refused:  # the chat is gone, the bot blocked
                    return TelegramResult(ok=False, attempts=attempt, error=f"{refused.__class__.__name__}: {refused}")
                except NetworkError as network_error:  # timeouts and dropped connections: try again shortly
                    wait_s = NETWORK_BACKOFF_S * attempt
                    error = f"{network_error.__class__.__name__}: {network_error}"
                except TelegramError as refused:
                    return TelegramResult(ok=False, attempts=attempt, error=f"{refused.__class__.__name__}: {refused}")
                if attempt < max_attempts:
                    sleep(wait_s)
        return TelegramResult(ok=False, attempts=max_attempts, error=error)

    try:
        result = asyncio.run(send())
    except TelegramError as error:  # initialization (getMe) failed: wrong token or Telegram unreachable
        result = TelegramResult(ok=False, attempts=1, error=f"{error.__class__.__name__}: {error}")
    logger.info("telegram.sent" if result.ok else "telegram.failed", extra={"chat_id": chat_id, "error": result.error})
    return result
