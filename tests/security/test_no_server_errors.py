"""Crafted input gets a 4xx in one JSON shape, never a 500: nesting, size, content types, text that no
database stores, dates out of range, chunked bodies, idempotency key reuse."""

from __future__ import annotations

import json

import pytest

from callbacks import event_types
from callbacks.models import Account, Event
from callbacks.services.events import event_emit
from tests.conftest import api_client_for
from tests.factories import CallbackProfileFactory

pytestmark = pytest.mark.django_db

DEEP = 990


def _api(account):
    client = api_client_for(account)
    client.raise_request_exception = False
    return client


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and body
    for key, messages in body.items():
        assert isinstance(messages, str if key == "detail" else list), body
    return body


JSON_ENDPOINTS = [
    ("post", "/api/v1/events/"),
    ("post", "/api/v1/callback-profiles/"),
    ("patch", "/api/v1/account/"),
    ("post", "/api/v1/api-keys/"),
    ("put", "/api/v1/alert-settings/"),
    ("put", "/api/v1/report-settings/"),
    ("post", "/api/v1/deliveries/replay/"),
]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_deeply_nested_json_is_refused_naming_the_limit(account, method, path):
    response = getattr(_api(account), method)(path, data=_nested(DEEP), content_type="application/json")
    body = _assert_json_error(response, 400)
    assert "32 levels" in json.dumps(body)


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_an_oversized_body_is_413_in_json(account, method, path):
    big = json.dumps({"data": {"blob": "x" * (3 * 1024 * 1024)}})
    response = getattr(_api(account), method)(path, data=big, content_type="application/json")
    body = _assert_json_error(response, 413)
    assert "bytes" in body["detail"]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"]
)
def test_a_body_that_is_not_json_is_415(account, method, path, content_type):
    response = getattr(_api(account), method)(path, data="type=x", content_type=content_type)
    _assert_json_error(response, 415)


@pytest.mark.parametrize("text", ["\ud800", "before\udfffafter", "nul\u0000inside"])
def test_text_no_database_stores_is_refused_naming_the_field(account, text):
    api = _api(account)
    response = api.post(
        "/api/v1/events/",
        data=json.dumps({"type": event_types.MESSAGE_STATUS, "data": {"note": text}}),
        content_type="application/json",
    )
    body = _assert_json_error(response, 400)
    assert "data.note" in body
    # also in a key, and in a profile's name
    response = api.post(
        "/api/v1/events/",
        data=json.dumps({"type": event_types.MESSAGE_STATUS, "data": {text: 1}}),
        content_type="application/json",
    )
    _assert_json_error(response, 400)
    response = api.post(
        "/api/v1/callback-profiles/",
        data=json.dumps({"name": text, "url": "http://127.0.0.1:9/x"}),
        content_type="application/json",
    )
    assert "name" in _assert_json_error(response, 400)
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "path", ["/api/v1/reports/?frequency=%00", "/api/v1/alerts/?kind=%00", "/api/v1/deliveries/?state=a%00"]
)
def test_nul_in_a_query_parameter_is_400_naming_it(account, path):
    body = _assert_json_error(_api(account).get(path), 400)
    assert set(body) & {"frequency", "kind", "state"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/deliveries/?created_after=0001-01-01&created_before=9999-12-31",
        "/api/v1/callback-profiles/?created_after=0001-01-01&created_before=9999-12-31",
        "/api/v1/callback-profiles/{profile}/stats/?since=0001-01-01&until=9999-12-31",
    ],
)
def test_dates_out_of_range_are_400(account, path):
    account.timezone = "Asia/Singapore"
    account.save()
    profile = CallbackProfileFactory(account=account)
    body = _assert_json_error(_api(account).get(path.format(profile=profile.pk)), 400)
    assert set(body) & {"created_after", "created_before", "since", "until"}


def test_a_replay_over_dates_out_of_range_is_400(account):
    profile = CallbackProfileFactory(account=account)
    response = _api(account).post(
        "/api/v1/deliveries/replay/",
        {"profile": str(profile.pk), "created_after": "0001-01-01", "created_before": "9999-12-31", "dry_run": True},
        format="json",
    )
    _assert_json_error(response, 400)


def test_a_chunked_body_is_refused_not_ignored(account):
    # given a body sent with Transfer-Encoding: chunked (no Content-Length), which Django cannot read
    api = _api(account)
    response = api.generic(
        "PATCH", "/api/v1/account/", data=b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert "Content-Length" in _assert_json_error(response, 400)["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("put", "/api/v1/alert-settings/"), ("patch", "/api/v1/account/"), ("put", "/api/v1/report-settings/")],
)
def test_a_json_body_that_is_not_an_object_is_400(account, method, path):
    response = getattr(_api(account), method)(path, data="[1, 2]", content_type="application/json")
    _assert_json_error(response, 400)


@pytest.mark.parametrize("field", ["name"])
def test_names_with_line_breaks_are_refused(account, field):
    api = _api(account)
    response = api.patch("/api/v1/account/", {field: "Acme\r\nBcc: x@evil.test"}, format="json")
    assert field in _assert_json_error(response, 400)
    assert "\n" not in Account.objects.get(pk=account.pk).name
    response = api.post(
        "/api/v1/callback-profiles/", {"name": "Orders\nX", "url": "http://127.0.0.1:9/x"}, format="json"
    )
    assert "name" in _assert_json_error(response, 400)


def test_reusing_an_idempotency_key_with_other_content_is_409_naming_the_first_event(account):
    first = event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"n": 1}, idempotency_key="k-1")
    api = _api(account)
    same = api.post(
        "/api/v1/events/",
        {"type": event_types.MESSAGE_STATUS, "data": {"n": 1}, "idempotency_key": "k-1"},
        format="json",
    )
    assert same.status_code in (200, 202) and same.json()["id"] == str(first.pk)
    for changed in (
        {"type": event_types.MESSAGE_STATUS, "data": {"n": 2}},
        {"type": event_types.MESSAGE_INBOUND, "data": {"n": 1}},
    ):
        response = api.post("/api/v1/events/", {**changed, "idempotency_key": "k-1"}, format="json")
        body = _assert_json_error(response, 409)
        assert str(first.pk) in json.dumps(body)
    assert Event.objects.count() == 1
