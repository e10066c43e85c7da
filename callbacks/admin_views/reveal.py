"""Secrets shown exactly once: kept in the session, encrypted, until the page that shows them is rendered.

The session store (a database table) never holds them in the clear: each is a Fernet token under
FIELD_ENCRYPTION_KEYS, the key that protects secrets at rest, and it is void after REVEAL_TTL_S.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.http import HttpRequest

from callbacks.fields import field_cipher

SESSION_KEY = "callback_center_reveal"
REVEAL_TTL_S = 15 * 60


def secret_stash(request: HttpRequest, *, slot: str, value: str) -> None:
    """Keep `value` for the next page that asks for `slot` (and only that one)."""
    pending = dict(request.session.get(SESSION_KEY, {}))
    pending[slot] = field_cipher().encrypt(value.encode()).decode()
    request.session[SESSION_KEY] = pending


def secret_pop(request: HttpRequest, *, slot: str) -> str | None:
    """The secret kept for `slot`, once; None when there is none or it waited past REVEAL_TTL_S."""
    pending = dict(request.session.get(SESSION_KEY, {}))
    token = pending.pop(slot, None)
    if token is None:
        return None
    request.session[SESSION_KEY] = pending
    try:
        return field_cipher().decrypt(token.encode(), ttl=REVEAL_TTL_S).decode()
    except InvalidToken:
        return None
