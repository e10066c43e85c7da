"""The examples of docs/wire-formats.md, run as a receiver would run them on requests we really sent."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from callbacks.delivery.engine import dispatch_batch
from callbacks.delivery.render.signing import signing_key_generate
from callbacks.models import CallbackProfile, Delivery
from callbacks.services.deliveries import delivery_retry
from callbacks.services.profiles import profile_public_keys, profile_secret_rotate, profile_signing_key_rotate
from tests.callbacks.engine_helpers import SECRET, delivery_of, emit, profile_for, send_one
from tests.receivers import Reply

pytestmark = pytest.mark.django_db

WIRE_FORMATS = Path(__file__).resolve().parents[2] / "docs" / "wire-formats.md"
KEY, IV = "0123456789abcdef", "fedcba9876543210"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", WIRE_FORMATS.read_text(), flags=re.DOTALL)


@pytest.fixture(scope="module")
def readme() -> dict:
    namespace: dict = {}
    for block in _blocks("python"):
        exec(compile(block, "docs/wire-formats.md", "exec"), namespace)
    return namespace


def _lower(headers: dict) -> dict:
    return {name.lower(): value for name, value in headers.items()}


def test_the_readme_verifier_accepts_our_signatures_and_both_during_a_rotation(account, receiver, readme):
    profile = profile_for(account, receiver, signing_secret=SECRET)
    request, _ = send_one(account, receiver, {"a": 1})
    verify = readme["verify_standard_webhook"]
    assert verify(SECRET, _lower(request.headers), request.body)
    assert not verify(SECRET, _lower(request.headers), request.body + b" ")

    new_secret = profile_secret_rotate(profile=profile)
    rotated, _ = send_one(account, receiver, {"a": 2})
    assert verify(SECRET, _lower(rotated.headers), rotated.body)
    assert verify(new_secret, _lower(rotated.headers), rotated.body)


def test_the_readme_v1a_verifier_accepts_our_ed25519_signatures_beside_v1_and_after_a_rotation(
    account, receiver, readme
):
    # given a profile signing with both v1 and v1a
    profile = profile_for(
        account, receiver, signing_secret=SECRET, sign_v1a=True, signing_private_key=signing_key_generate()
    )
    public_key, _ = profile_public_keys(profile)
    request, _ = send_one(account, receiver, {"a": 1})
    headers = _lower(request.headers)
    verify_v1a = readme["verify_v1a"]
    # then the v1a example accepts it with the public key alone, and the v1 example still accepts it
    assert verify_v1a(public_key, headers, request.body)
    assert readme["verify_standard_webhook"](SECRET, headers, request.body)
    assert not verify_v1a(public_key, headers, request.body + b" ")
    assert not verify_v1a(
        public_key, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)}, request.body
    )

    # and after a key rotation both the old and the new public key verify
    new_key = profile_signing_key_rotate(profile=profile)
    rotated, _ = send_one(account, receiver, {"a": 2})
    assert verify_v1a(public_key, _lower(rotated.headers), rotated.body)
    assert verify_v1a(new_key, _lower(rotated.headers), rotated.body)


def test_the_readme_v1a_verifier_accepts_a_get_request_target(account, receiver, readme):
    profile = profile_for(
        account,
        receiver,
        http_method="GET",
        sign_standard_webhooks=False,
        sign_v1a=True,
        signing_private_key=signing_key_generate(),
    )
    request, _ = send_one(account, receiver, {"a": 1})
    assert readme["verify_v1a"](profile_public_keys(profile)[0], _lower(request.headers), request.path.encode())


def test_the_readme_legacy_hash_check_accepts_our_items(account, receiver, readme):
    profile_for(account, receiver, sign_md5=True, md5_salt="pepper")
    request, _ = send_one(account, receiver, {"a": 1})
    [item] = request.json()["callbacks"]
    check = readme["legacy_hash_ok"]
    assert check(item, "pepper", account.platform_account_id, account.platform_api_key)
    assert not check(item, "salt", account.platform_account_id, account.platform_api_key)


@pytest.mark.parametrize("mode", ["cfb", "gcm"])
@pytest.mark.parametrize("random_iv", [False, True])
def test_the_readme_decrypts_our_parameters(account, receiver, readme, mode, random_iv):
    profile_for(
        account,
        receiver,
        encryption_cipher=f"aes-128-{mode}",
        encryption_key=KEY,
        encryption_iv=IV,
        encryption_iv_random=random_iv,
        encryption_fields=["phone"],
    )
    request, _ = send_one(account, receiver, {"phone": "+14155550123"})
    value = request.json()["data"]["phone"]
    assert readme["decrypt_parameter"](value, KEY, mode, None if random_iv else IV) == "+14155550123"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_the_readme_openssl_command_decrypts_a_cfb_parameter(account, receiver):
    profile_for(
        account,
        receiver,
        encryption_cipher="aes-128-cfb",
        encryption_key=KEY,
        encryption_iv=IV,
        encryption_iv_random=False,
        encryption_fields=["phone"],
    )
    request, _ = send_one(account, receiver, {"phone": "+14155550123"})
    [command] = _blocks("sh")
    completed = subprocess.run(
        ["sh", "-c", command],
        env={**os.environ, "VALUE": request.json()["data"]["phone"], "KEY": KEY, "IV": IV},
        capture_output=True,
        check=True,
    )
    assert completed.stdout == b"+14155550123"


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ({"accepted": True}, Delivery.State.DELIVERED),
        ({"accepted": True, "queued": True}, Delivery.State.DELIVERED),
        ({"accepted": False}, Delivery.State.PENDING),
        ({"accepted": True, "bad_parameters": True}, Delivery.State.FAILED),
    ],
)
def test_the_readme_envelope_answers_mean_what_the_table_says(account, receiver, readme, answer, state):
    profile_for(account, receiver, response_contract=CallbackProfile.ResponseContract.ENVELOPE)
    body = readme["envelope_answer"](**answer, receiver_id="rcv-9")
    receiver.respond_with(Reply(body=body, headers={"Content-Type": "application/json"}))
    event = emit(account)
    dispatch_batch(worker_id="test")
    assert delivery_of(event).state == state
    assert delivery_of(event).attempts.get().receiver_delivery_id == "rcv-9"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_the_readme_verifies_a_get_or_delete_and_reads_its_envelope(account, receiver, readme, method):
    # given a bodiless profile without placeholders
    profile_for(account, receiver, http_method=method, url=receiver.url("/hooks?tenant=blue"), signing_secret=SECRET)

    # when an event goes out
    request, event = send_one(account, receiver, {"phone": "+14155550123"})

    # then both verifiers of the page accept the request target, and no other
    headers = _lower(request.headers)
    assert readme["verified"](SECRET, method, request.path, headers, request.body)
    assert readme["verify_standard_webhook"](SECRET, headers, request.path.encode())
    assert not readme["verified"](SECRET, method, request.path.replace("blue", "red"), headers, request.body)
    [received] = readme["events_received"](method, request.path, request.body)
    assert received["id"] == str(event.id) and received["data"] == {"phone": "+14155550123"}


@pytest.mark.parametrize(
    ("body_type", "template"),
    [("xml", "<m><data.status></m>"), ("html", "<p><data.status></p>"), ("text", "status=<data.status>")],
)
def test_the_readme_verifier_accepts_bodies_that_are_not_json(account, receiver, readme, body_type, template):
    profile_for(account, receiver, body_type=body_type, body_template=template, signing_secret=SECRET)
    request, _ = send_one(account, receiver, {"status": "read"})
    assert readme["verified"](SECRET, "POST", request.path, _lower(request.headers), request.body)


def test_the_readme_receiver_processes_a_retried_batch_once(account, receiver, readme):
    # given a batching profile and the page's receiver, which fails the first request after processing it
    profile_for(account, receiver, batch_max_size=2, signing_secret=SECRET)
    receiver.respond_next(Reply(status=500))
    processed = []
    first_event, second_event = emit(account, {"n": 1}), emit(account, {"n": 2})

    # when the batch is sent, retried, then retried again by a person
    dispatch_batch(worker_id="test")
    dispatch_batch(worker_id="test")
    delivery_retry(delivery=delivery_of(first_event))
    dispatch_batch(worker_id="test")

    # then three verified arrivals of one webhook-id, and each event processed once, by its delivery id
    requests = receiver.wait_for(3)
    for request in requests:
        headers = _lower(request.headers)
        assert readme["verified"](SECRET, request.method, request.path, headers, request.body)
        if readme["accept_once"](headers):
            processed.extend(readme["events_received"](request.method, request.path, request.body))
    assert len({request.header("webhook-id") for request in requests}) == 1
    assert [item["delivery_id"] for item in processed] == [
        str(delivery_of(first_event).pk),
        str(delivery_of(second_event).pk),
    ]
