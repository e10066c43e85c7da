"""Our Standard Webhooks signatures, checked by the specification's own reference verifier (v1) and by
libsodium (v1a)."""

from __future__ import annotations

import base64
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callbacks.delivery.render.signing import (
    SECRET_PREFIX,
    asymmetric_signatures,
    public_key_of,
    signing_key_generate,
    signing_key_load,
    signing_secret_generate,
    standard_signature,
)

secrets = st.binary(min_size=16, max_size=64).map(lambda raw: SECRET_PREFIX + base64.b64encode(raw).decode())
message_ids = st.uuids().map(str) | st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=64)
bodies = st.text(max_size=2000).map(str.encode)


def headers_for(*, message_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


@settings(max_examples=300, deadline=None)
@given(secret=secrets, message_id=message_ids, body=bodies)
def test_the_reference_verifier_accepts_every_signature_we_make(secret, message_id, body):
    # given a message signed now with any secret, id and UTF-8 body
    timestamp = int(time.time())
    signature = standard_signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
    # when the specification's reference implementation verifies it / then it passes
    Webhook(secret).verify(
        body, headers_for(message_id=message_id, timestamp=timestamp, signature=signature), json_parse=False
    )


@settings(max_examples=200, deadline=None)
@given(
    secret=secrets, message_id=message_ids, body=bodies, tamper=st.sampled_from(["body", "id", "timestamp", "secret"])
)
def test_the_reference_verifier_rejects_any_tampering(secret, message_id, body, tamper):
    # given a valid signature
    timestamp = int(time.time())
    signature = standard_signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
    headers = headers_for(message_id=message_id, timestamp=timestamp, signature=signature)
    verifier_secret = secret
    # when one part changes after signing
    if tamper == "body":
        body = body + b" "
    elif tamper == "id":
        headers["webhook-id"] = message_id + "x"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = str(timestamp - 1)
    else:
        verifier_secret = signing_secret_generate()
    # then verification fails
    with pytest.raises(WebhookVerificationError):
        Webhook(verifier_secret).verify(body, headers, json_parse=False)


@settings(max_examples=100, deadline=None)
@given(old_secret=secrets, new_secret=secrets, message_id=message_ids, body=bodies)
def test_during_a_rotation_either_secret_verifies_the_space_separated_signatures(
    old_secret, new_secret, message_id, body
):
    # given both signatures sent during a rotation, space-separated as the specification says
    timestamp = int(time.time())
    both = " ".join(
        standard_signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
        for secret in (new_secret, old_secret)
    )
    headers = headers_for(message_id=message_id, timestamp=timestamp, signature=both)
    # then a receiver holding either secret accepts the message
    Webhook(old_secret).verify(body, headers, json_parse=False)
    Webhook(new_secret).verify(body, headers, json_parse=False)


def test_generated_secrets_have_the_whsec_form_and_enough_entropy():
    # given many fresh secrets
    generated = {signing_secret_generate() for _ in range(200)}
    # then they are distinct, whsec_-prefixed and decode to at least 24 random bytes
    assert len(generated) == 200
    for secret in generated:
        assert secret.startswith(SECRET_PREFIX)
        assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) >= 24


@settings(max_examples=100, deadline=None)
@given(message_id=message_ids, body=bodies, key_count=st.integers(min_value=1, max_value=3))
def test_libsodium_verifies_each_v1a_signature_we_make_and_only_for_its_content(message_id, body, key_count):
    # given a header signed with one to three ed25519 keys (a rotation), checked by libsodium (PyNaCl)
    private_keys = [signing_key_generate() for _ in range(key_count)]
    timestamp = int(time.time())
    header = asymmetric_signatures(
        keys=[signing_key_load(key) for key in private_keys], message_id=message_id, timestamp=timestamp, body=body
    )
    entries = header.split(" ")
    assert [entry.partition(",")[0] for entry in entries] == ["v1a"] * key_count
    signed = f"{message_id}.{timestamp}.".encode() + body
    for private_key, entry in zip(private_keys, entries, strict=True):
        verify_key = VerifyKey(base64.b64decode(public_key_of(private_key).removeprefix("whpk_")))
        signature = base64.b64decode(entry.partition(",")[2])
        # then each verifies with its key's public key, and not once the body changes
        verify_key.verify(signed, signature)
        with pytest.raises(BadSignatureError):
            verify_key.verify(signed + b" ", signature)
