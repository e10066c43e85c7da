"""Parameter encryption round-trips through tools a receiver would use: the `openssl` command for
CFB, a standard AEAD interface for GCM, each with fixed and random IVs, for any value."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from callbacks.delivery.render.encryption import IV_BYTES, KEY_BYTES, payload_encrypt, value_decrypt, value_encrypt

ascii_characters = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
sizes = st.sampled_from(sorted(KEY_BYTES))
plaintexts = st.text(max_size=300)


def key_of(size: str) -> st.SearchStrategy[str]:
    return st.text(alphabet=ascii_characters, min_size=KEY_BYTES[size], max_size=KEY_BYTES[size])


ivs = st.text(alphabet=ascii_characters, min_size=IV_BYTES, max_size=IV_BYTES)


def openssl(*, decrypt: bool, cipher: str, key: str, iv: bytes, data: bytes) -> bytes:
    """`openssl enc` with a raw key and IV (no salt, no password derivation), base64 on the wire."""
    command = ["openssl", "enc", "-d" if decrypt else "-e", f"-{cipher}", "-K", key.encode().hex(), "-iv", iv.hex()]
    command += ["-nosalt", "-a", "-A"]
    result = subprocess.run(command, input=data, capture_output=True, check=True, timeout=10)
    return result.stdout


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=sizes, plaintext=plaintexts, random_iv=st.booleans())
def test_openssl_decrypts_our_cfb_values(data, size, plaintext, random_iv):
    # given a value encrypted with AES-CFB, a fixed or a random IV
    key = data.draw(key_of(size))
    iv = "" if random_iv else data.draw(ivs)
    sent = value_encrypt(cipher=f"{size}-cfb", key=key, plaintext=plaintext, iv=iv)
    # when a receiver decrypts it with `openssl enc` (a random IV travels in front of the ciphertext)
    raw = base64.b64decode(sent)
    iv_bytes, ciphertext = (raw[:IV_BYTES], raw[IV_BYTES:]) if random_iv else (iv.encode(), raw)
    received = openssl(decrypt=True, cipher=f"{size}-cfb", key=key, iv=iv_bytes, data=base64.b64encode(ciphertext))
    # then it reads the original text
    assert received.decode() == plaintext


@settings(max_examples=40, deadline=None)
@given(data=st.data(), size=sizes, plaintext=plaintexts.filter(bool))
def test_with_a_fixed_iv_our_cfb_output_is_byte_for_byte_what_openssl_makes(data, size, plaintext):
    key, iv = data.draw(key_of(size)), data.draw(ivs)
    ours = value_encrypt(cipher=f"{size}-cfb", key=key, plaintext=plaintext, iv=iv)
    theirs = openssl(decrypt=False, cipher=f"{size}-cfb", key=key, iv=iv.encode(), data=plaintext.encode())
    assert ours == theirs.decode().strip()


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=sizes, plaintext=plaintexts, random_iv=st.booleans())
def test_a_standard_aead_interface_opens_our_gcm_values_and_refuses_tampering(data, size, plaintext, random_iv):
    # given a value encrypted with AES-GCM: base64([IV ‖] ciphertext ‖ 16-byte tag)
    key = data.draw(key_of(size))
    iv = "" if random_iv else data.draw(ivs)
    raw = base64.b64decode(value_encrypt(cipher=f"{size}-gcm", key=key, plaintext=plaintext, iv=iv))
    nonce, sealed = (raw[:IV_BYTES], raw[IV_BYTES:]) if random_iv else (iv.encode(), raw)
    # when a receiver opens it with the usual decrypt(nonce, ciphertext ‖ tag) interface
    # then it reads the original text
    assert AESGCM(key.encode()).decrypt(nonce, sealed, None).decode() == plaintext
    # and any flipped bit is refused
    tampered = bytes([sealed[0] ^ 1]) + sealed[1:]
    with pytest.raises(InvalidTag):
        AESGCM(key.encode()).decrypt(nonce, tampered, None)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=sizes, plaintext=plaintexts)
def test_random_ivs_differ_per_message_and_round_trip(data, size, plaintext):
    key = data.draw(key_of(size))
    for mode in ("cfb", "gcm"):
        first = value_encrypt(cipher=f"{size}-{mode}", key=key, plaintext=plaintext)
        second = value_encrypt(cipher=f"{size}-{mode}", key=key, plaintext=plaintext)
        assert base64.b64decode(first)[:IV_BYTES] != base64.b64decode(second)[:IV_BYTES]
        assert value_decrypt(cipher=f"{size}-{mode}", key=key, ciphertext=first) == plaintext


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=40)


@settings(max_examples=100, deadline=None)
@given(phone=json_scalars, city=json_scalars, other=st.text(max_size=20))
def test_only_the_listed_parameters_change_and_each_decrypts_to_its_value(phone, city, other):
    # given an event with nested values and a list of paths to encrypt
    data = {"phone": phone, "address": {"city": city, "zip": "018956"}, "other": other}
    key = "k" * 32
    # when the payload is encrypted
    sent = payload_encrypt(data=data, paths=["phone", "data.address.city"], cipher="aes-256-gcm", key=key)
    # then the other values are untouched, nulls stay null, and each listed value decrypts to its text
    assert sent["other"] == other and sent["address"]["zip"] == "018956"
    assert data["phone"] == phone  # the event's own data is not changed
    for path_value, original in ((sent["phone"], phone), (sent["address"]["city"], city)):
        if original is None:
            assert path_value is None
            continue
        text = value_decrypt(cipher="aes-256-gcm", key=key, ciphertext=path_value)
        assert text == (original if isinstance(original, str) else json.dumps(original, separators=(",", ":")))
