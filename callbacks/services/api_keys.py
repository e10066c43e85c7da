"""Creating, checking and revoking API keys. The full key exists only in the answer to its creation."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from callbacks.models import Account, ApiKey

KEY_PREFIX = "cbk_"
PREFIX_RANDOM_CHARS = 8
LAST_USED_WRITE_INTERVAL = timedelta(minutes=1)


def _key_hash(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is as strong as a slow one here.
    return hashlib.sha256(raw_key.encode()).hexdigest()


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
    scopes = sorted(set(scopes))
    unknown = [scope for scope in scopes if scope not in ApiKey.Scope.values]
    if not scopes or unknown:
        raise ValidationError({"scopes": f"Choose one or more of: {', '.join(ApiKey.Scope.values)}."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
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
    """The active key matching `raw_key`, or None. Records the last use at most once a minute."""
    api_key = ApiKey.objects.select_related("account").filter(key_hash=_key_hash(raw_key)).first()
    now = timezone.now()
    if api_key is None or not api_key.is_active(now):
        return None
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_WRITE_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke the key and every key it created, and theirs, at once."""
    now = timezone.now()
    with transaction.atomic():
        generation = [api_key.pk]
        while generation:
            ApiKey.objects.filter(pk__in=generation, revoked_at__isnull=True).update(revoked_at=now)
            generation = list(ApiKey.objects.filter(parent__in=generation).values_list("pk", flat=True))
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key
