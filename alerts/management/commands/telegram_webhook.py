"""Register, remove or show the bot's webhook (`/telegram/webhook/` with the secret-token header)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from telegram.error import TelegramError

from alerts.telegram import telegram_call, telegram_is_configured

WEBHOOK_PATH = "/telegram/webhook/"


class Command(BaseCommand):
    help = "Register (set), remove (delete) or show (info) the Telegram webhook of the alert bot."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["set", "delete", "info"])
        parser.add_argument("--url", default="", help=f"Default: SITE_URL + {WEBHOOK_PATH}")

    def handle(self, *args, action: str, url: str, **options) -> None:
        if not telegram_is_configured():
            raise CommandError("Set TELEGRAM_BOT_TOKEN first.")
        try:
            if action == "set":
                self._set(url or settings.SITE_URL + WEBHOOK_PATH)
            elif action == "delete":
                telegram_call(lambda bot: bot.delete_webhook())
                self.stdout.write(self.style.SUCCESS("Webhook removed: use `telegram_poll` to receive updates."))
            else:
                info = telegram_call(lambda bot: bot.get_webhook_info())
                self.stdout.write(f"url: {info.url or '(none)'}\npending updates: {info.pending_update_count}")
                if info.last_error_message:
                    self.stdout.write(f"last error: {info.last_error_message}")
        except TelegramError as error:
            raise CommandError(f"Telegram answered: {error}") from error

    def _set(self, url: str) -> None:
        if not settings.TELEGRAM_WEBHOOK_SECRET:
            raise CommandError("Set TELEGRAM_WEBHOOK_SECRET first: the webhook refuses updates without it.")
        if not url.startswith("https://"):
            self.stderr.write(self.style.WARNING(f"Telegram only calls https:// webhooks; {url} may be refused."))
        telegram_call(
            lambda bot: bot.set_webhook(
                url=url, secret_token=settings.TELEGRAM_WEBHOOK_SECRET, allowed_updates=["message"]
            )
        )
        self.stdout.write(self.style.SUCCESS(f"Webhook set: {url}"))
