"""What arrives, checked as a receiver would with independent tools: for every body type and method,
profiles and events go in through the API, a real receiver on 127.0.0.1 gets the callbacks, and
`standardwebhooks` verifies the signature, `openssl enc -d` decrypts AES-CFB, `cryptography`'s AEAD
decrypts GCM, and the legacy MD5 hash is recomputed. Each case is answered 500 once, so the retry is
checked too: the same webhook-id, verified again."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from standardwebhooks.webhooks import Webhook

from callbacks.delivery.engine import dispatch_batch
from tests.receivers import RecordedRequest, Reply

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]

SALT = "pepper-40-chars-at-most"
IV = "fedcba9876543210"
PHONE = "+14155550123"
CONTENT = "a\r\nb\tc <&> \"q\" 's' ü 🙂"
KEYS = {128: "0123456789abcdef", 192: "0123456789abcdef01234567", 256: "0123456789abcdef0123456789abcdef"}


@dataclass(frozen=True)
class Case:
    method: str
    body_type: str
    template: str = ""
    path: str = "/hooks"
    cipher: str = "aes-128-cfb"
    random_iv: bool = False
    content_kept: bool = True  # whether the content field arrives where the case reads it
    extra: dict = field(default_factory=dict)

    @property
    def bits(self) -> int:
        return int(self.cipher.split("-")[1])

    @property
    def bodyless(self) -> bool:
        return self.method in ("GET", "DELETE")


CASES = {
    "post-json-envelope": Case("POST", "json"),
    "put-json-template": Case(
        "PUT",
        "json",
        '{"to": "<data.phone>", "text": "<data.content>", "status": <data.status>}',
        cipher="aes-256-gcm",
        random_iv=True,
    ),
    "post-xml": Case("POST", "xml", '<msg to="<data.phone>"><text><data.content></text></msg>', cipher="aes-128-gcm"),
    "put-xml-attribute": Case(
        "PUT", "xml", '<msg to="<data.phone>" text="<data.content>"/>', cipher="aes-192-cfb", random_iv=True
    ),
    "post-html": Case("POST", "html", '<p data-to="<data.phone>" title="<data.content>"></p>', cipher="aes-256-cfb"),
    "put-text": Case("PUT", "text", "to=<data.phone>|text=<data.content>", cipher="aes-128-gcm", random_iv=True),
    "get-envelope": Case("GET", "json"),
    "delete-envelope": Case("DELETE", "json", cipher="aes-256-gcm", random_iv=True),
    "get-placeholders": Case(
        "GET", "json", path="/hooks/<data.status>?to=<data.phone>", random_iv=True, content_kept=False
    ),
    "delete-placeholders": Case(
        "DELETE", "json", path="/hooks?to=<data.phone>&text=<data.content>", cipher="aes-192-gcm"
    ),
}


# --- the receiver's side ------------------------------------------------------------------------------
class _HtmlReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attributes: dict = {}

    def handle_starttag(self, tag, attrs) -> None:
        self.attributes.update(dict(attrs))


def received_fields(case: Case, request: RecordedRequest) -> tuple[str, str | None, dict]:
    """(phone as received, content as received, the MD5 fields) read as the receiver's parser reads them."""
    if case.bodyless:
        query = {name: values[0] for name, values in request.query.items()}
        md5 = {"callback_id": query.get("callback_id"), "hash": query.get("hash")}
        if "data" in query:
            data = json.loads(query["data"])
            return data["phone"], data["content"], md5
        return query["to"], query.get("text"), md5
    if case.body_type == "json":
        [item] = request.json()["callbacks"]  # the MD5 hash makes the JSON body a list
        md5 = {"callback_id": item["callback_id"], "hash": item["hash"]}
        if case.template:
            return item["to"], item["text"], md5
        return item["data"]["phone"], item["data"]["content"], md5
    md5 = {"callback_id": request.header("x-callback-id"), "hash": request.header("x-callback-hash")}
    if case.body_type == "xml":
        root = ElementTree.fromstring(request.body)
        text = root.get("text") if root.get("text") is not None else root.find("text").text
        return root.get("to"), text, md5
    if case.body_type == "html":
        reader = _HtmlReader()
        reader.feed(request.text())
        return reader.attributes["data-to"], reader.attributes["title"], md5
    fields = dict(part.split("=", 1) for part in request.text().split("|"))
    return fields["to"], fields["text"], md5


def decrypt(case: Case, value: str) -> str:
    """AES-CFB with the openssl command, GCM with an AEAD implementation: never our own code."""
    raw = base64.b64decode(value)
    nonce, raw = (raw[:16], raw[16:]) if case.random_iv else (IV.encode(), raw)
    key = KEYS[case.bits].encode()
    if case.cipher.endswith("gcm"):
        return AESGCM(key).decrypt(nonce, raw, None).decode()
    completed = subprocess.run(
        ["openssl", "enc", "-d", f"-aes-{case.bits}-cfb", "-nosalt", "-K", key.hex(), "-iv", nonce.hex()],
        input=raw,
        capture_output=True,
        check=True,
    )
    return completed.stdout.decode()


def verify(secret: str, case: Case, request: RecordedRequest) -> None:
    """The reference library, on the body, or for GET and DELETE on the request target as received."""
    signed = request.path if case.bodyless else request.body.decode()
    Webhook(secret).verify(signed, dict(request.headers), json_parse=False)


# --- the platform's side -------------------------------------------------------------------------------
def profile_through_api(api, receiver, case: Case) -> str:
    response = api.post(
        "/api/v1/callback-profiles/",
        {
            "name": f"{case.method} {case.body_type}",
            "url": receiver.url(case.path),
            "http_method": case.method,
            "body_type": case.body_type,
            "body_template": case.template,
            "sign_md5": True,
            "md5_salt": SALT,
            "encryption_cipher": case.cipher,
            "encryption_key": KEYS[case.bits],
            "encryption_iv": "" if case.random_iv else IV,
            "encryption_iv_random": case.random_iv,
            "encryption_fields": ["phone"],
            "event_types": ["message.status"],
            "retry_schedule_s": [0, 0],
            **case.extra,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["signing_secret"]


def event_through_api(api, data: dict) -> str:
    response = api.post("/api/v1/events/", {"type": "message.status", "data": data}, format="json")
    assert response.status_code == 202, response.json()
    return response.json()["id"]


@pytest.mark.parametrize("name", list(CASES))
def test_what_arrives_verifies_with_independent_tools_first_try_and_retry(api, account, receiver, name):
    # given a profile of this method and body type, signing, hashing and encrypting the phone
    case = CASES[name]
    secret = profile_through_api(api, receiver, case)
    receiver.respond_next(Reply(status=500))

    # when an event is posted through the API and the engine sends it, then retries it after the 500
    event_id = event_through_api(api, {"phone": PHONE, "content": CONTENT, "status": "delivered"})
    dispatch_batch(worker_id="test")
    dispatch_batch(worker_id="test")
    first, retry = receiver.wait_for(2)

    # then both arrivals pass every receiver-side check, under one webhook-id: the delivery's
    [delivery] = api.get(f"/api/v1/events/{event_id}/").json()["deliveries"]
    assert delivery["state"] == "delivered"
    for request in (first, retry):
        assert request.method == case.method
        assert (request.body == b"") is case.bodyless
        verify(secret, case, request)
        phone, content, md5 = received_fields(case, request)
        assert decrypt(case, phone) == PHONE
        if case.content_kept:
            assert content == CONTENT
        expected = hashlib.md5(
            (SALT + account.platform_account_id + account.platform_api_key + delivery["id"]).encode()
        ).hexdigest()
        assert md5 == {"callback_id": delivery["id"], "hash": expected}
        assert request.header("webhook-id") == delivery["id"]
    assert received_fields(case, first) == received_fields(case, retry) or case.random_iv


def test_a_batch_arrives_as_one_verified_list_whose_items_each_carry_their_delivery_and_hash(api, account, receiver):
    # given a JSON profile batching 3 events, hashing and encrypting with GCM
    case = Case("POST", "json", cipher="aes-128-gcm", random_iv=True, extra={"batch_max_size": 3})
    secret = profile_through_api(api, receiver, case)
    receiver.respond_next(Reply(status=503))

    # when three events are posted through the API and the batch is sent, failed once, and retried
    for n in range(3):
        event_through_api(api, {"phone": PHONE, "content": f"n{n}"})
    dispatch_batch(worker_id="test")
    dispatch_batch(worker_id="test")
    first, retry = receiver.wait_for(2)

    # then both are the same verified batch, each item with its own delivery id, hash and decryptable phone
    assert first.header("webhook-id") == retry.header("webhook-id")
    assert first.json()["callbacks"] == retry.json()["callbacks"] or case.random_iv
    for request in (first, retry):
        verify(secret, case, request)
        items = request.json()["callbacks"]
        assert [item["data"]["content"] for item in items] == ["n0", "n1", "n2"]
        for item in items:
            assert item["delivery_id"] == item["callback_id"]
            expected = hashlib.md5(
                (SALT + account.platform_account_id + account.platform_api_key + item["callback_id"]).encode()
            ).hexdigest()
            assert item["hash"] == expected
            assert decrypt(case, item["data"]["phone"]) == PHONE
