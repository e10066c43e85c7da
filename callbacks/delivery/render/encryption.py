"""Parameter encryption: chosen event fields replaced by base64 AES ciphertext (DESIGN section 5).

AES-128/192/256 in CFB (CFB128, OpenSSL's `aes-*-cfb`) or GCM. Key and IV are the characters the
profile holds, UTF-8 encoded. A random IV per message is sent in front of the ciphertext:
base64(IV ‖ ciphertext) for CFB, base64(IV ‖ ciphertext ‖ 16-byte tag) for GCM; with a fixed IV the
IV is left out. Any standard AES implementation decrypts it (docs/wire-formats.md shows `openssl enc`).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:  # CFB lives among the "decrepit" modes since cryptography 47; it is what receivers expect
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover
    from cryptography.hazmat.primitives.ciphers.modes import CFB

IV_BYTES = 16
GCM_TAG_BYTES = 16
KEY_BYTES = {"aes-128": 16, "aes-192": 24, "aes-256": 32}
CIPHER_NAMES = tuple(f"{size}-{mode}" for size in KEY_BYTES for mode in ("cfb", "gcm"))


class EncryptionConfigError(ValueError):
    """The profile's cipher, key or IV cannot encrypt (caught at save time; reported as a failure here)."""


def _parts(cipher: str, key: str, iv: str) -> tuple[bytes, bytes, str]:
    size, _, mode = cipher.rpartition("-")
    key_bytes = key.encode()
    if size not in KEY_BYTES or mode not in ("cfb", "gcm"):
        raise EncryptionConfigError(f"unknown cipher {cipher!r}")
    if len(key_bytes) != KEY_BYTES[size]:
        raise EncryptionConfigError(f"{cipher} needs a key of {KEY_BYTES[size]} bytes, not {len(key_bytes)}")
    iv_bytes = iv.encode()
    if iv and len(iv_bytes) != IV_BYTES:
        raise EncryptionConfigError(f"the IV must be {IV_BYTES} bytes, not {len(iv_bytes)}")
    return key_bytes, iv_bytes, mode


def value_encrypt(*, cipher: str, key: str, plaintext: str, iv: str = "") -> str:
    """base64 of the ciphertext; an empty `iv` means a random IV, sent in front of the ciphertext."""
    key_bytes, iv_bytes, mode = _parts(cipher, key, iv)
    random_iv = not iv_bytes
    if random_iv:
        iv_bytes = os.urandom(IV_BYTES)
    if mode == "cfb":
        encryptor = Cipher(algorithms.AES(key_bytes), CFB(iv_bytes)).encryptor()
        sealed = encryptor.update(plaintext.encode()) + encryptor.finalize()
    else:
        encryptor = Cipher(algorithms.AES(key_bytes), modes.GCM(iv_bytes)).encryptor()
        sealed = encryptor.update(plaintext.encode()) + encryptor.finalize() + encryptor.tag
    return base64.b64encode(iv_bytes + sealed if random_iv else sealed).decode()


def value_decrypt(*, cipher: str, key: str, ciphertext: str, iv: str = "") -> str:
    """The inverse of value_encrypt (what a receiver does); GCM raises InvalidTag when tampered with."""
    key_bytes, iv_bytes, mode = _parts(cipher, key, iv)
    raw = base64.b64decode(ciphertext)
    if not iv_bytes:
        iv_bytes, raw = raw[:IV_BYTES], raw[IV_BYTES:]
    if mode == "cfb":
        decryptor = Cipher(algorithms.AES(key_bytes), CFB(iv_bytes)).decryptor()
        return (decryptor.update(raw) + decryptor.finalize()).decode()
    body, tag = raw[:-GCM_TAG_BYTES], raw[-GCM_TAG_BYTES:]
    decryptor = Cipher(algorithms.AES(key_bytes), modes.GCM(iv_bytes, tag)).decryptor()
    return (decryptor.update(body) + decryptor.finalize()).decode()


def value_as_plaintext(value: Any) -> str:
    """Strings as they are; numbers, booleans, lists and objects as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def payload_encrypt(*, data: dict, paths: list[str], cipher: str, key: str, iv: str = "") -> dict:
    """A copy of `data` with the value at each dotted path encrypted (`phone`, `data.address.city`,
    `items.0.sku`). Absent and null values stay as they are; `data` itself is not changed."""
    result = dict(data)
    for path in paths:
        segments = path.removeprefix("data.").split(".")
        container: Any = result
        for segment in segments[:-1]:
            child = _child(container, segment)
            if not isinstance(child, dict | list):
                container = None
                break
            child = dict(child) if isinstance(child, dict) else list(child)
            _assign(container, segment, child)
            container = child
        last = segments[-1]
        value = _child(container, last) if container is not None else None
        if value is not None:
            _assign(container, last, value_encrypt(cipher=cipher, key=key, plaintext=value_as_plaintext(value), iv=iv))
    return result


def _child(container: Any, segment: str) -> Any:
    if isinstance(container, dict):
        return container.get(segment)
    if isinstance(container, list) and segment.isdigit() and int(segment) < len(container):
        return container[int(segment)]
    return None


def _assign(container: Any, segment: str, value: Any) -> None:
    if isinstance(container, dict):
        container[segment] = value
    else:
        container[int(segment)] = value
