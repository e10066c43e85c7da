"""Standard Webhooks signatures (standardwebhooks.com) and the legacy salted MD5 hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def signing_secret_generate() -> str:
    """A fresh Standard Webhooks secret: `whsec_` and base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def standard_signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` for one secret."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def legacy_md5_hash(*, salt: str, account_id: str, api_key: str, callback_id: str) -> str:
    """md5(salt + account_id + api_key + callback_id) as lowercase hex (legacy receivers)."""
    return hashlib.md5((salt + account_id + api_key + callback_id).encode(), usedforsecurity=False).hexdigest()


def standard_signatures(*, secrets: list[str] | tuple[str, ...], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one `v1,…` per secret, space-separated (two during a rotation)."""
    return " ".join(
        standard_signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body) for secret in secrets
    )


def older_secrets_parse(stored: str) -> list[tuple[str, float]]:
    """The older retired secrets as stored on a profile: `[[secret, unix seconds it stops], …]`."""
    try:
        entries = json.loads(stored) if stored else []
    except ValueError:
        return []
    return [(str(secret), float(expires)) for secret, expires in entries if secret]


def retired_secrets(profile: Any) -> list[tuple[str, float | None]]:
    """Every secret a profile retired that may still sign, with when it stops (None: no end known)."""
    retired: list[tuple[str, float | None]] = []
    if profile.previous_signing_secret:
        expires = profile.previous_signing_secret_expires_at
        retired.append((profile.previous_signing_secret, expires.timestamp() if expires else None))
    retired.extend(older_secrets_parse(profile.older_signing_secrets or ""))
    return retired
