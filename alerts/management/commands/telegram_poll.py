"""Development without a public address: fetch the bot's updates (getUpdates) and act on them."""

from __future__ import annotations

import time
from functools import partial

from django.core.management.base import BaseCommand, CommandError
from telegram import Bot
from telegram.error import Conflict, NetworkError, TelegramError

from alerts.telegram import telegram_call, telegram_is_configured, telegram_message_send, telegram_update_handle

LONG_POLL_S = 30
NETWORK_RETRY_S = 5


def _updates_get(bot: Bot, *, offset: int | None, timeout: int):
    return bot.get_updates(offset=offset, timeout=timeout, allowed_updates=["message"])


class Command(BaseCommand):
    help = "Poll Telegram for the bot's updates and bind chats that send /start <token> (development)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Fetch one batch of updates without waiting, then stop."
        )
        parser.add_argument("--timeout", type=int, default=LONG_POLL_S, help="Long-poll seconds per request.")

    def handle(self, *args, once: bool, timeout: int, **options) -> None:
        if not telegram_is_configured():
            raise CommandError("Set TELEGRAM_BOT_TOKEN first.")
        offset: int | None = None
        self.stdout.write("Polling Telegram for updates (Ctrl-C stops).")
        while True:
            try:
                updates = telegram_call(partial(_updates_get, offset=offset, timeout=0 if once else timeout))
            except Conflict as error:
                raise CommandError(
                    "A webhook is set for this bot, so Telegram refuses polling: "
                    "run `python manage.py telegram_webhook delete` first."
                ) from error
            except NetworkError as error:
                if once:
                    raise CommandError(f"Telegram is unreachable: {error}") from error
                self.stderr.write(f"Telegram is unreachable ({error}); trying again in {NETWORK_RETRY_S} s.")
                time.sleep(NETWORK_RETRY_S)
                continue
            except TelegramError as error:
                raise CommandError(f"Telegram answered: {error}") from error
            for update in updates:
                offset = update.update_id + 1
                reply = telegram_update_handle(update.to_dict())
                if reply is not None:
                    result = telegram_message_send(chat_id=reply.chat_id, text=reply.text)
                    self.stdout.write(
                        f"chat {reply.chat_id}: {reply.text}" + ("" if result.ok else f" (not sent: {result.error})")
                    )
            if once:
                return
