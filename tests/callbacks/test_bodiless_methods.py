"""GET and DELETE callbacks carry no body: the event arrives in the URL, signed over the request target."""

from __future__ import annotations

import hashlib
import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callbacks.models import Attempt
from tests.callbacks.engine_helpers import SECRET, delivery_of, profile_for, send_one

pytestmark = pytest.mark.django_db


def _headers(request) -> dict:
    return {name.lower(): value for name, value in request.headers.items()}


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_without_placeholders_the_standard_envelope_is_in_the_query_and_signed_as_sent(account, receiver, method):
    # given a GET or DELETE profile whose address already has a query and no placeholders
    profile_for(account, receiver, http_method=method, url=receiver.url("/hooks?tenant=blue"), signing_secret=SECRET)

    # when an event goes out
    request, event = send_one(account, receiver, {"phone": "+1 415 555 0123", "note": "a&b=c ü"})

    # then no body and no Content-Type, and the query holds the tenant and the envelope
    assert request.method == method and request.body == b""
    assert request.header("content-type") is None
    query = request.query
    assert query["tenant"] == ["blue"]
    assert query["id"] == [str(event.id)] and query["type"] == [event.type]
    assert query["timestamp"][0].endswith("Z")
    assert json.loads(query["data"][0]) == {"phone": "+1 415 555 0123", "note": "a&b=c ü"}
    compact = json.dumps(json.loads(query["data"][0]), separators=(",", ":"), ensure_ascii=False)
    assert query["data"][0] == compact  # compact JSON, as sent (key order is the database's)

    # and the reference verifier accepts the request target as received, and nothing else
    Webhook(SECRET).verify(request.path, _headers(request), json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(request.path + "&x=1", _headers(request), json_parse=False)
    assert request.header("webhook-id") == str(delivery_of(event).pk)


def test_with_placeholders_the_url_is_as_the_template_says(account, receiver):
    profile_for(account, receiver, http_method="GET", url=receiver.url("/hooks/<data.status>?to=<data.phone>"))
    request, _ = send_one(account, receiver, {"status": "read", "phone": "+1 415"})
    assert request.url_path == "/hooks/read"
    assert request.query == {"to": ["+1 415"]}
    Webhook(SECRET).verify(request.path, _headers(request), json_parse=False)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_the_legacy_md5_hash_goes_in_the_query(account, receiver, method):
    # given a bodiless profile with the legacy MD5 hash
    profile_for(account, receiver, http_method=method, sign_md5=True, md5_salt="pepper")

    # when an event goes out
    request, event = send_one(account, receiver, {"a": 1})

    # then the query carries the delivery's callback id and the hash the receiver recomputes
    callback_id = str(delivery_of(event).pk)
    expected = hashlib.md5(
        ("pepper" + account.platform_account_id + account.platform_api_key + callback_id).encode()
    ).hexdigest()
    assert request.query["callback_id"] == [callback_id]
    assert request.query["hash"] == [expected]


def test_the_attempt_stores_the_url_as_sent(account, receiver):
    profile_for(account, receiver, http_method="GET")
    request, event = send_one(account, receiver, {"a": 1})
    attempt = Attempt.objects.get(delivery=delivery_of(event))
    assert attempt.request_url == receiver.base_url + request.path
    assert attempt.request_body == ""
