"""What the bot does with an update: `/start <token>` binds the chat; the answer goes back to that chat."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import Update

from alerts.services.telegram_binding import telegram_binding_complete

logger = logging.getLogger(__name__)

START_COMMAND = "/start"


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
            "Open the START BOT link shown on the alert settings screen again.",
        )
    return BotReply(chat_id, f"Bound: alerts of {account.name} will be sent to this chat.")
