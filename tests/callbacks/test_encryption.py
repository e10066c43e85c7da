"""Parameter encryption as a receiver decrypts it: OpenSSL's `enc` for CFB, OpenSSL through Node for GCM."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from callbacks.delivery.render.encryption import EncryptionConfigError, payload_encrypt, value_decrypt, value_encrypt
from tests.callbacks.engine_helpers import profile_for, send_one

pytestmark = pytest.mark.django_db

KEYS = {
    "aes-128": "0123456789abcdef",
    "aes-192": "0123456789abcdef01234567",
    "aes-256": "0123456789abcdef0123456789abcdef",
}
IV = "fedcba9876543210"


def openssl_decrypt(*, cipher: str, key: str, iv: bytes, ciphertext: bytes) -> str:
    """`openssl enc -d` with the key and IV given as hex, the way docs/wire-formats.md tells receivers."""
    completed = subprocess.run(
        ["openssl", "enc", "-d", f"-{cipher}", "-K", key.encode().hex(), "-iv", iv.hex(), "-nosalt"],
        input=ciphertext,
        capture_output=True,
        check=True,
    )
    return completed.stdout.decode()


NODE_GCM_DECRYPT = """
const crypto = require('crypto');
const [cipher, key, iv, ciphertext, tag] = JSON.parse(process.argv[1]);
const decipher = crypto.createDecipheriv(cipher, Buffer.from(key, 'utf8'), Buffer.from(iv, 'base64'));
decipher.setAuthTag(Buffer.from(tag, 'base64'));
process.stdout.write(Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]));
"""


def node_gcm_decrypt(*, cipher: str, key: str, iv: bytes, sealed: bytes) -> str:
    """Node's crypto module (OpenSSL underneath) decrypts and checks the tag; `openssl enc` has no AEAD."""
    arguments = [cipher, key, base64.b64encode(iv).decode(), base64.b64encode(sealed[:-16]).decode()]
    arguments.append(base64.b64encode(sealed[-16:]).decode())
    completed = subprocess.run(["node", "-e", NODE_GCM_DECRYPT, json.dumps(arguments)], capture_output=True, check=True)
    return completed.stdout.decode()


def _encrypting_profile(account, receiver, cipher: str, random_iv: bool, fields: list[str]):
    return profile_for(
        account,
        receiver,
        encryption_cipher=cipher,
        encryption_key=KEYS[cipher.rsplit("-", 1)[0]],
        encryption_iv=IV,
        encryption_iv_random=random_iv,
        encryption_fields=fields,
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("size", sorted(KEYS))
@pytest.mark.parametrize("random_iv", [False, True])
def test_openssl_decrypts_cfb_parameters_sent_to_a_receiver(account, receiver, size, random_iv):
    # given a profile encrypting the phone number with AES-CFB
    cipher = f"{size}-cfb"
    _encrypting_profile(account, receiver, cipher, random_iv, ["phone", "data.address.city"])

    # when an event goes out
    request, _ = send_one(account, receiver, {"phone": "+14155550123", "address": {"city": "Zürich"}, "n": 5})

    # then the listed values are base64 ciphertext that `openssl enc -d` turns back, the rest untouched
    data = request.json()["data"]
    assert data["n"] == 5 and data["phone"] != "+14155550123"
    for path, plaintext in (("phone", "+14155550123"), ("city", "Zürich")):
        raw = base64.b64decode(data["address"]["city"] if path == "city" else data["phone"])
        iv, ciphertext = (raw[:16], raw[16:]) if random_iv else (IV.encode(), raw)
        assert openssl_decrypt(cipher=cipher, key=KEYS[size], iv=iv, ciphertext=ciphertext) == plaintext


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (OpenSSL's GCM through its crypto module)")
@pytest.mark.parametrize("size", sorted(KEYS))
@pytest.mark.parametrize("random_iv", [False, True])
def test_gcm_parameters_decrypt_and_authenticate_with_openssl_through_node(account, receiver, size, random_iv):
    # given a profile encrypting with AES-GCM
    cipher = f"{size}-gcm"
    _encrypting_profile(account, receiver, cipher, random_iv, ["otp"])

    # when an event goes out
    request, _ = send_one(account, receiver, {"otp": 123456})

    # then base64(IV? ‖ ciphertext ‖ tag) decrypts, tag checked, to the value's JSON text
    raw = base64.b64decode(request.json()["data"]["otp"])
    iv, sealed = (raw[:16], raw[16:]) if random_iv else (IV.encode(), raw)
    assert node_gcm_decrypt(cipher=cipher, key=KEYS[size], iv=iv, sealed=sealed) == "123456"
    # and an independent AEAD API agrees
    assert AESGCM(KEYS[size].encode()).decrypt(iv, sealed, None) == b"123456"


def test_a_random_iv_makes_each_message_different_and_a_fixed_one_repeats():
    fixed = {value_encrypt(cipher="aes-128-gcm", key=KEYS["aes-128"], plaintext="x", iv=IV) for _ in range(3)}
    random = {value_encrypt(cipher="aes-128-gcm", key=KEYS["aes-128"], plaintext="x") for _ in range(3)}
    assert len(fixed) == 1 and len(random) == 3


def test_tampering_with_gcm_ciphertext_is_detected():
    sealed = bytearray(base64.b64decode(value_encrypt(cipher="aes-256-gcm", key=KEYS["aes-256"], plaintext="hi")))
    sealed[20] ^= 1
    with pytest.raises(InvalidTag):
        value_decrypt(cipher="aes-256-gcm", key=KEYS["aes-256"], ciphertext=base64.b64encode(sealed).decode())


def test_payload_encrypt_leaves_the_original_alone_and_skips_absent_or_null_values():
    data = {"a": {"b": "secret"}, "n": None, "items": [{"sku": "X1"}]}
    encrypted = payload_encrypt(
        data=data, paths=["a.b", "n", "missing.path", "items.0.sku"], cipher="aes-128-cfb", key=KEYS["aes-128"], iv=IV
    )
    assert data == {"a": {"b": "secret"}, "n": None, "items": [{"sku": "X1"}]}
    assert encrypted["n"] is None and "missing" not in encrypted
    assert value_decrypt(cipher="aes-128-cfb", key=KEYS["aes-128"], ciphertext=encrypted["a"]["b"], iv=IV) == "secret"
    assert (
        value_decrypt(cipher="aes-128-cfb", key=KEYS["aes-128"], ciphertext=encrypted["items"][0]["sku"], iv=IV) == "X1"
    )


def test_a_key_of_the_wrong_length_is_refused():
    with pytest.raises(EncryptionConfigError):
        value_encrypt(cipher="aes-256-cfb", key="short", plaintext="x")
