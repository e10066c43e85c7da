"""Creating, checking and revoking API keys. The full key exists only in the answer to its creation."""

from __future__ import annotations

import copy
import hashlib
import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from callbacks.models import Account, ApiKey

KEY_PREFIX = "cbk_"
PREFIX_RANDOM_CHARS = 8
LAST_USED_WRITE_INTERVAL = timedelta(minutes=1)
# Keys recently found, per process: key hash → (when read, monotonic; the key with its account).
# Revoking a key forgets it here at once; other processes read it again within API_KEY_CACHE_S.
_recent: dict[str, tuple[float, ApiKey]] = {}
RECENT_MAX_KEYS = 10_000


def _key_hash(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is as strong as a slow one here.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_values_check(*, scopes: list[str] | tuple[str, ...], expires_at: datetime | None = None) -> None:
    """Raise the ValidationError `api_key_create` would, writing nothing (a form checks with it)."""
    unknown = [scope for scope in scopes if scope not in ApiKey.Scope.values]
    if not scopes or unknown:
        raise ValidationError({"scopes": f"Choose one or more of: {', '.join(ApiKey.Scope.values)}."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})


def api_key_create(
    *,
    account: Account,
    scopes: list[str] | tuple[str, ...] | None = None,
    name: str = "",
    expires_at: datetime | None = None,
    created_by=None,
    parent: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the full key, which is never available again.

    A key made by another key (`parent`) has at most its scopes and expires no later than it;
    without an expiry of its own it takes the parent's.
    """
    if scopes is None:
        scopes = parent.scopes if parent is not None else ApiKey.Scope.values
    api_key_values_check(scopes=scopes, expires_at=expires_at)
    scopes = sorted(set(scopes))
    if parent is not None:
        _within_parent_check(parent=parent, scopes=scopes, expires_at=expires_at)
        if expires_at is None:
            expires_at = parent.expires_at
    prefix = KEY_PREFIX + secrets.token_hex(PREFIX_RANDOM_CHARS // 2)
    raw_key = f"{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            account=account,
            name=name,
            prefix=prefix,
            key_hash=_key_hash(raw_key),
            scopes=scopes,
            expires_at=expires_at,
            created_by=created_by,
            parent=parent,
        )
    return api_key, raw_key


def _within_parent_check(*, parent: ApiKey, scopes: list[str], expires_at: datetime | None) -> None:
    beyond = [scope for scope in scopes if scope not in parent.scopes]
    if beyond:
        raise ValidationError(
            {"scopes": f"This key may only create keys with its own scopes ({', '.join(sorted(parent.scopes))})."}
        )
    if parent.expires_at is not None and expires_at is not None and expires_at > parent.expires_at:
        raise ValidationError(
            {"expires_at": f"A key may not outlive the key that creates it ({parent.expires_at.isoformat()})."}
        )


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key` (a copy of its own, with its account), or None.

    A key found is kept in this process for API_KEY_CACHE_S seconds (5 by default), so a busy producer
    costs no query per request; its expiry is still checked on every request. A revocation applies at
    once in the process that made it and within API_KEY_CACHE_S in the others. Records the last use at
    most once a minute."""
    key_hash = _key_hash(raw_key)
    read_at = time.monotonic()
    recent = _recent.get(key_hash)
    if recent is not None and read_at - recent[0] < settings.API_KEY_CACHE_S:
        api_key = recent[1]
    else:
        api_key = ApiKey.objects.select_related("account").filter(key_hash=key_hash).first()
        if api_key is None:
            _recent.pop(key_hash, None)
            return None
        if settings.API_KEY_CACHE_S > 0:
            if len(_recent) >= RECENT_MAX_KEYS:
                _recent.clear()
            _recent[key_hash] = (read_at, api_key)
    now = timezone.now()
    if not api_key.is_active(now):
        return None
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_WRITE_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    # Each request gets its own copies: nothing a request changes on them reaches another.
    mine = copy.copy(api_key)
    mine.account = copy.copy(api_key.account)
    return mine


def api_keys_forget() -> None:
    """Forget the keys this process has read (the next request of each reads it again)."""
    _recent.clear()


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke the key and every key it created, and theirs, at once."""
    now = timezone.now()
    revoked_hashes = []
    with transaction.atomic():
        generation = [api_key.pk]
        while generation:
            ApiKey.objects.filter(pk__in=generation, revoked_at__isnull=True).update(revoked_at=now)
            revoked_hashes += ApiKey.objects.filter(pk__in=generation).values_list("key_hash", flat=True)
            generation = list(ApiKey.objects.filter(parent__in=generation).values_list("pk", flat=True))
    for key_hash in revoked_hashes:  # this process stops trusting them at once, the others within the cache time
        _recent.pop(key_hash, None)
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key
