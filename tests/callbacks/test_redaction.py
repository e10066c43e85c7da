"""One rule for secrets in the delivery log, the API, the admin and the e-mails: names compared
without case, `-` and `_` alike; query parameters as well as headers."""

from __future__ import annotations

import pytest

from alerts.notices import url_mask
from callbacks.models import Attempt
from callbacks.redaction import name_is_secret, url_redact
from tests.callbacks.engine_helpers import delivery_of, profile_for, send_one

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name",
    ["X-Api_Key", "x_api_key", "X-API-KEY", "api-key", "Access_Token", "token", "sig", "X-Auth", "Client-Secret"],
)
def test_secret_names_are_recognised_however_spelled(name):
    assert name_is_secret(name)


@pytest.mark.parametrize("name", ["User-Agent", "Content-Type", "webhook-id", "X-Tenant", "region", "design"])
def test_other_names_are_not(name):
    assert not name_is_secret(name)


def test_the_delivery_log_never_stores_query_secrets_or_odd_spelled_secret_headers(account, receiver, api):
    # given a profile whose address carries a token and whose headers spell a key oddly
    profile_for(
        account,
        receiver,
        url=receiver.url("/hooks?token=abc123&sig=s1g&region=eu"),
        headers={"X-Api_Key": "k-9", "X-Tenant": "blue"},
    )

    # when an event goes out, the receiver gets them as configured
    request, event = send_one(account, receiver, {"a": 1})
    assert request.query["token"] == ["abc123"] and request.header("x-api_key") == "k-9"

    # then the stored attempt holds none of them in clear, nor does the API or the e-mail's URL
    attempt = Attempt.objects.get(delivery=delivery_of(event))
    assert "abc123" not in attempt.request_url and "s1g" not in attempt.request_url
    assert "region=eu" in attempt.request_url and "token=[redacted]" in attempt.request_url
    assert attempt.request_headers["X-Api_Key"] == "[redacted]"
    assert attempt.request_headers["X-Tenant"] == "blue"
    shown = api.get(f"/api/v1/deliveries/{attempt.delivery_id}/").json()["attempts"][0]
    assert "abc123" not in shown["request_url"] and shown["request_headers"]["X-Api_Key"] == "[redacted]"
    assert url_mask(receiver.url("/hooks?Access-Token=abc123&region=eu")).endswith("?Access-Token=****&region=eu")


def test_attempts_stored_in_clear_before_are_shown_redacted():
    attempt = Attempt(request_url="https://h.example/x?api_key=abc&n=1", request_headers={"X-Auth-Token": "t"})
    assert attempt.request_url_shown == "https://h.example/x?api_key=[redacted]&n=1"
    assert attempt.request_headers_shown == {"X-Auth-Token": "[redacted]"}
    assert url_redact("https://user:pw@h.example/") == "https://user:[redacted]@h.example/"
