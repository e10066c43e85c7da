"""Standard Webhooks signatures (standardwebhooks.com) and the legacy salted MD5 hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

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
