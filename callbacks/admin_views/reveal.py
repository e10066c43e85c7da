"""Secrets shown exactly once: kept in the session until the page that shows them is rendered."""

from __future__ import annotations

from django.http import HttpRequest

SESSION_KEY = "callback_center_reveal"


def secret_stash(request: HttpRequest, *, slot: str, value: str) -> None:
    """Keep `value` for the next page that asks for `slot` (and only that one)."""
    pending = dict(request.session.get(SESSION_KEY, {}))
    pending[slot] = value
    request.session[SESSION_KEY] = pending


def secret_pop(request: HttpRequest, *, slot: str) -> str | None:
    pending = dict(request.session.get(SESSION_KEY, {}))
    value = pending.pop(slot, None)
    if value is not None:
        request.session[SESSION_KEY] = pending
    return value
