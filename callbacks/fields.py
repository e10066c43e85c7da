"""Model fields that keep customer secrets encrypted at rest (Fernet, keys from the environment)."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

ENCRYPTED_PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: secrets cannot be stored")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def field_cipher() -> MultiFernet:
    """The MultiFernet built from FIELD_ENCRYPTION_KEYS (first key encrypts, every key decrypts)."""
    return _cipher(tuple(settings.FIELD_ENCRYPTION_KEYS))


def secret_encrypt(plaintext: str) -> str:
    return ENCRYPTED_PREFIX + field_cipher().encrypt(plaintext.encode()).decode()


def secret_decrypt(stored: str) -> str:
    if not stored.startswith(ENCRYPTED_PREFIX):
        return stored
    try:
        return field_cipher().decrypt(stored[len(ENCRYPTED_PREFIX) :].encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS (was a key removed?)"
        ) from error


def secret_reencrypt(stored: str) -> str:
    """The same secret encrypted under the current first key (for key rotation)."""
    if not stored.startswith(ENCRYPTED_PREFIX):
        return secret_encrypt(stored) if stored else stored
    token = field_cipher().rotate(stored[len(ENCRYPTED_PREFIX) :].encode())
    return ENCRYPTED_PREFIX + token.decode()


class EncryptedTextField(models.TextField):
    """A text column whose value is stored Fernet-encrypted; Python code sees the plaintext.

    The empty string is stored as is, so "is it set?" needs no decryption.
    """

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return secret_decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return secret_encrypt(value)
