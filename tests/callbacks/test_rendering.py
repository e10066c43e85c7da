"""Each rendering option, as a real receiver on 127.0.0.1 sees it."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callbacks import clock, event_types
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import Attempt, CallbackProfile
from callbacks.services.profiles import profile_secret_rotate
from tests.callbacks.engine_helpers import SECRET, delivery_of, emit, profile_for, send_one

pytestmark = pytest.mark.django_db


def test_without_a_template_the_standard_envelope_is_sent(account, receiver):
    # given a profile with no template
    profile_for(account, receiver)

    # when an event goes out
    request, event = send_one(account, receiver, {"phone": "+14155550123", "count": 3})

    # then the body is the envelope with typed data, as JSON
    assert request.header("content-type") == "application/json"
    assert request.json() == {
        "id": str(event.pk),
        "type": event_types.MESSAGE_STATUS,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": {"phone": "+14155550123", "count": 3},
    }


def test_the_signature_verifies_with_the_reference_library_and_the_id_is_the_delivery(account, receiver):
    # given a signing profile
    profile_for(account, receiver, signing_secret=SECRET)

    # when an event goes out
    request, event = send_one(account, receiver, {"status": "sent"})

    # then the Standard Webhooks reference verifier accepts it and webhook-id is the delivery id
    payload = Webhook(SECRET).verify(request.body, request.headers)
    assert payload["data"] == {"status": "sent"}
    assert request.header("webhook-id") == str(delivery_of(event).pk)
    assert abs(int(request.header("webhook-timestamp")) - time.time()) < 60


def test_a_retry_carries_the_same_webhook_id(account, receiver):
    # given a receiver that fails the first time
    from tests.receivers import Reply

    profile_for(account, receiver, retry_schedule_s=[0])
    receiver.respond_next(Reply(status=503))

    # when the event is sent and retried
    emit(account)
    dispatch_batch(worker_id="test")
    dispatch_batch(worker_id="test")

    # then both requests carry the same id
    first, second = receiver.wait_for(2)
    assert first.header("webhook-id") == second.header("webhook-id")


def test_during_a_rotation_both_secrets_sign_and_either_verifies(account, receiver):
    # given a profile whose secret was just rotated
    profile = profile_for(account, receiver, signing_secret=SECRET)
    new_secret = profile_secret_rotate(profile=profile)

    # when an event goes out
    request, _ = send_one(account, receiver)

    # then two signatures are sent and each secret verifies on its own
    assert len(request.header("webhook-signature").split(" ")) == 2
    Webhook(SECRET).verify(request.body, request.headers)
    Webhook(new_secret).verify(request.body, request.headers)


def test_after_the_rotation_window_only_the_new_secret_signs(account, receiver):
    profile = profile_for(account, receiver, signing_secret=SECRET)
    profile_secret_rotate(profile=profile)
    CallbackProfile.objects.filter(pk=profile.pk).update(
        previous_signing_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    request, _ = send_one(account, receiver)
    assert len(request.header("webhook-signature").split(" ")) == 1


def test_every_secret_rotated_in_the_last_24_hours_keeps_signing(account, receiver):
    # given a profile whose secret is rotated twice within the day
    profile = profile_for(account, receiver, signing_secret=SECRET)
    second = profile_secret_rotate(profile=profile)
    third = profile_secret_rotate(profile=profile)

    # when an event goes out, each of the three secrets verifies it
    request, _ = send_one(account, receiver)
    assert len(request.header("webhook-signature").split(" ")) == 3
    for secret in (SECRET, second, third):
        Webhook(secret).verify(request.body, request.headers)

    # then once the first retirement is 24 hours old, the oldest secret no longer signs
    stored = CallbackProfile.objects.get(pk=profile.pk)
    [[oldest, _]] = json.loads(stored.older_signing_secrets)
    assert oldest == SECRET
    stored.older_signing_secrets = json.dumps([[SECRET, time.time() - 1]])
    stored.save(update_fields=["older_signing_secrets"])
    later, _ = send_one(account, receiver)
    assert len(later.header("webhook-signature").split(" ")) == 2
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(later.body, later.headers)


def test_a_json_template_gets_typed_values_and_a_url_placeholder_is_percent_encoded(account, receiver):
    # given a JSON template and a URL with a placeholder
    profile_for(
        account,
        receiver,
        url=receiver.url("/hooks?to=<data.phone>"),
        body_template='{"to": <data.phone>, "n": <data.count>, "text": "Hi <data.name>", "event": "<event.type>"}',
    )

    # when an event goes out
    request, _ = send_one(account, receiver, {"phone": "+1 415/555", "count": 7, "name": 'Ada "A" L'})

    # then values keep their JSON types, strings are escaped, and the URL value is encoded
    assert request.json() == {"to": "+1 415/555", "n": 7, "text": 'Hi Ada "A" L', "event": event_types.MESSAGE_STATUS}
    assert request.path == "/hooks?to=%2B1%20415%2F555"


@pytest.mark.parametrize(("body_type", "content_type"), [("xml", "application/xml"), ("html", "text/html")])
def test_xml_and_html_templates_are_entity_escaped(account, receiver, body_type, content_type):
    profile_for(account, receiver, body_type=body_type, body_template="<msg><to><data.name></to></msg>")
    request, _ = send_one(account, receiver, {"name": "A & <B>"})
    assert request.header("content-type").startswith(content_type)
    assert request.text() == "<msg><to>A &amp; &lt;B&gt;</to></msg>"


def test_a_text_template_is_sent_as_is(account, receiver):
    profile_for(account, receiver, body_type="text", body_template="status=<data.status>&raw=<data.raw>")
    request, _ = send_one(account, receiver, {"status": "ok", "raw": "a&b"})
    assert request.text() == "status=ok&raw=a&b"
    assert request.header("content-type").startswith("text/plain")


def test_the_profile_method_and_headers_are_used(account, receiver):
    profile_for(account, receiver, http_method="PUT", headers={"X-Tenant": "blue"})
    request, _ = send_one(account, receiver, {"a": 1})
    assert request.method == "PUT"
    assert request.header("x-tenant") == "blue"
    assert request.json()["data"] == {"a": 1}


def test_a_get_profile_sends_no_body_and_its_data_in_the_url(account, receiver):
    profile_for(account, receiver, http_method="GET", url=receiver.url("/hooks?status=<data.status>"))
    request, _ = send_one(account, receiver, {"status": "read"})
    assert request.method == "GET" and request.body == b""
    assert request.query == {"status": ["read"]}


def test_basic_authentication_is_sent_and_redacted_from_the_attempt(account, receiver):
    # given a profile with a username and password
    profile_for(account, receiver, auth_username="ada", auth_password="s3cret:pw")

    # when an event goes out
    request, event = send_one(account, receiver)

    # then the receiver gets HTTP Basic and the stored attempt does not hold it
    assert request.header("authorization") == "Basic " + base64.b64encode(b"ada:s3cret:pw").decode()
    attempt = Attempt.objects.get(delivery=delivery_of(event))
    assert attempt.request_headers["Authorization"] == "[redacted]"
    assert "s3cret" not in str(attempt.request_headers)


def test_a_literal_authorization_value_is_sent_as_given(account, receiver):
    profile_for(account, receiver, auth_header="Token abc123")
    request, event = send_one(account, receiver)
    assert request.header("authorization") == "Token abc123"
    assert "abc123" not in str(Attempt.objects.get(delivery=delivery_of(event)).request_headers)


def test_legacy_md5_items_carry_type_callback_id_and_the_salted_hash(account, receiver):
    # given a profile with the legacy MD5 signature and an account with platform credentials
    profile_for(account, receiver, sign_md5=True, md5_salt="pepper")

    # when an event goes out
    request, event = send_one(account, receiver, {"status": "delivered"})

    # then the body is a callbacks list whose item carries the hash a legacy receiver recomputes
    [item] = request.json()["callbacks"]
    callback_id = str(delivery_of(event).pk)
    expected = hashlib.md5(
        ("pepper" + account.platform_account_id + account.platform_api_key + callback_id).encode()
    ).hexdigest()
    assert item["type"] == event_types.MESSAGE_STATUS
    assert item["callback_id"] == callback_id
    assert item["hash"] == expected
    assert item["data"] == {"status": "delivered"}


def test_batching_sends_up_to_n_items_in_one_request(account, receiver):
    # given a profile batching up to 3 events
    profile_for(account, receiver, batch_max_size=3, batch_max_wait_ms=0)

    # when 7 events are due at once
    events = [emit(account, {"n": number}) for number in range(7)]
    dispatch_batch(worker_id="test")

    # then 3 requests carry 3, 3 and 1 items, each once
    requests = receiver.wait_for(3)
    sizes = sorted(len(request.json()["callbacks"]) for request in requests)
    assert sizes == [1, 3, 3]
    sent = sorted(item["data"]["n"] for request in requests for item in request.json()["callbacks"])
    assert sent == list(range(7))
    assert all(delivery_of(event).state == "delivered" for event in events)


def test_a_partial_batch_waits_up_to_t_ms_then_goes(account, receiver):
    # given a profile batching up to 10 events after at most 500 ms
    profile_for(account, receiver, batch_max_size=10, batch_max_wait_ms=500)
    emit(account, {"n": 1})
    emit(account, {"n": 2})

    # when the dispatcher looks at once, nothing is sent yet
    dispatch_batch(worker_id="test")
    assert receiver.requests == []

    # then after the wait both go in one request, with a third that arrived meanwhile
    emit(account, {"n": 3})
    clock.advance(seconds=0.6)
    dispatch_batch(worker_id="test")
    [request] = receiver.wait_for(1)
    assert [item["data"]["n"] for item in request.json()["callbacks"]] == [1, 2, 3]
