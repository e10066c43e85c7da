"""Signing primitives: the Standard Webhooks header value, rotation, and the legacy MD5 hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from standardwebhooks.webhooks import Webhook

from callbacks.delivery.render.signing import (
    legacy_md5_hash,
    signing_secret_generate,
    standard_signature,
    standard_signatures,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body_keyed_with_the_decoded_secret():
    body = b'{"type":"message.status"}'
    expected = hmac.new(
        base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), b"msg_1.1700000000." + body, hashlib.sha256
    ).digest()
    assert standard_signature(secret=SECRET, message_id="msg_1", timestamp=1700000000, body=body) == (
        "v1," + base64.b64encode(expected).decode()
    )


def test_during_a_rotation_the_header_holds_both_signatures_each_verifiable():
    # given the current and the previous secret
    new_secret = signing_secret_generate()
    body, timestamp = b'{"a":1}', int(time.time())
    value = standard_signatures(secrets=(new_secret, SECRET), message_id="msg_2", timestamp=timestamp, body=body)

    # then it is two space-separated v1 signatures, and the reference verifier accepts either secret
    assert value.count("v1,") == 2 and len(value.split(" ")) == 2
    headers = {"webhook-id": "msg_2", "webhook-timestamp": str(timestamp), "webhook-signature": value}
    for secret in (SECRET, new_secret):
        Webhook(secret).verify(body, headers)


def test_the_legacy_hash_is_salted_md5_in_lowercase_hex():
    assert legacy_md5_hash(salt="s", account_id="A1", api_key="k", callback_id="c") == (
        hashlib.md5(b"sA1kc").hexdigest()
    )
    assert legacy_md5_hash(salt="", account_id="", api_key="", callback_id="") == "d41d8cd98f00b204e9800998ecf8427e"
