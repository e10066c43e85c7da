"""Sending Telegram messages with python-telegram-bot, waiting out Telegram's 429 `retry_after`."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_RETRY_AFTER_S = 60.0
NETWORK_BACKOFF_S = 2.0
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"

T = TypeVar("T")


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
