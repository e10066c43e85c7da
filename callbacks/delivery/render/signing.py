"""Standard Webhooks signatures (standardwebhooks.com): `v1` (HMAC-SHA256) and `v1a` (ed25519); and the
legacy salted MD5 hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

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


# --- v1a: ed25519 signatures (Standard Webhooks), verified with a public key alone -------------------

PRIVATE_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"


def signing_key_generate() -> str:
    """A fresh ed25519 private key: `whsk_` and base64 of its raw 32 bytes (stored encrypted)."""
    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return PRIVATE_KEY_PREFIX + base64.b64encode(raw).decode()


def signing_key_load(private_key: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_key.removeprefix(PRIVATE_KEY_PREFIX)))


def public_key_of(private_key: str) -> str:
    """The Standard Webhooks public key of a private key: `whpk_` and base64 of the raw 32 bytes."""
    raw = signing_key_load(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode()


def asymmetric_signatures(*, keys: Iterable[Ed25519PrivateKey], message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1a,<base64 ed25519 signature of "{id}.{timestamp}.{body}">` per key, space-separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join("v1a," + base64.b64encode(key.sign(signed)).decode() for key in keys)


def retired_signing_keys(profile: Any) -> list[tuple[str, float]]:
    """The private keys a profile retired that still sign, as stored: `[[key, unix seconds it stops], …]`."""
    return older_secrets_parse(profile.retired_signing_keys or "")
