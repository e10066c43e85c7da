"""The caller's account over the API, the balance signal, and the API's own documentation."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.db import transaction

from callbacks import signals
from callbacks.models import Account
from callbacks.services.accounts import account_balance_set

ACCOUNT = "/api/v1/account/"


@pytest.fixture
def balance_changes():
    heard: list[dict] = []

    def listener(sender, **kwargs):
        heard.append(kwargs)

    signals.account_balance_changed.connect(listener, dispatch_uid="test-balance-listener")
    yield heard
    signals.account_balance_changed.disconnect(dispatch_uid="test-balance-listener")


@pytest.mark.django_db
def test_account_reads_without_its_platform_api_key(api, account):
    answer = api.get(ACCOUNT).json()
    assert answer["name"] == account.name and answer["timezone"] == "UTC"
    assert answer["platform_api_key_set"] is True
    assert account.platform_api_key not in str(answer) and "platform_api_key" not in answer


@pytest.mark.django_db(transaction=True)
def test_patch_changes_timezone_email_and_balance_and_announces_the_balance(api, account, balance_changes):
    # when the account is changed through the API
    response = api.patch(
        ACCOUNT,
        {"timezone": "America/New_York", "admin_email": "billing@acme.test", "balance_usd": "42.50"},
        format="json",
    )
    # then it is stored, and the balance change is announced once with both amounts
    assert response.status_code == 200, response.json()
    assert response.json()["balance_usd"] == "42.50"
    account.refresh_from_db()
    assert (account.timezone, account.admin_email, account.balance_usd) == (
        "America/New_York",
        "billing@acme.test",
        Decimal("42.50"),
    )
    assert len(balance_changes) == 1
    assert balance_changes[0]["previous_balance_usd"] == Decimal("0.00")
    assert balance_changes[0]["balance_usd"] == Decimal("42.50")
    assert balance_changes[0]["account"].pk == account.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "not a known time zone"),
        ({"admin_email": "billing-at-acme"}, "admin_email", "“billing-at-acme” is not a valid e-mail address"),
        ({"balance_usd": "lots"}, "balance_usd", "valid number"),
        ({"name": ""}, "name", "blank"),
    ],
)
def test_bad_account_changes_name_the_field(api, body, field, message):
    response = api.patch(ACCOUNT, body, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


@pytest.mark.django_db(transaction=True)
def test_balance_is_announced_only_after_commit(account, balance_changes):
    # given a balance set inside a transaction that is rolled back
    with pytest.raises(RuntimeError), transaction.atomic():
        account_balance_set(account=account, balance_usd="10")
        raise RuntimeError("rolled back")
    # then nobody heard of it, and the stored balance is unchanged
    assert balance_changes == []
    assert Account.objects.get(pk=account.pk).balance_usd == Decimal("0.00")
    # and a committed change is heard
    account_balance_set(account=account, balance_usd="7.25")
    assert [change["balance_usd"] for change in balance_changes] == [Decimal("7.25")]


@pytest.mark.django_db
def test_schema_describes_the_endpoints_and_the_bearer_scheme(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    paths = schema["paths"]
    for path in (
        "/api/v1/event-types/",
        "/api/v1/callback-profiles/",
        "/api/v1/callback-profiles/{id}/",
        "/api/v1/callback-profiles/{id}/rotate-secret/",
        "/api/v1/account/",
        "/api/v1/api-keys/",
        "/api/v1/api-keys/{id}/",
    ):
        assert path in paths, path
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key of the account: `Authorization: Bearer cbk_…`.",
    }
    profile = schema["components"]["schemas"]["Profile"]["properties"]
    assert "auth_password" not in profile and profile["auth_password_set"]["type"] == "boolean"
    request = schema["components"]["schemas"]["ProfileRequest"]["properties"]
    assert request["auth_password"]["writeOnly"] is True
    parameters = {parameter["name"] for parameter in paths["/api/v1/callback-profiles/"]["get"]["parameters"]}
    assert {"name", "http_method", "status", "created_after", "created_before", "limit", "offset"} <= parameters


@pytest.mark.django_db
def test_docs_are_served_from_this_server_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn." not in page and "jsdelivr" not in page and "unpkg" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    # and the files it names ship with the project (collectstatic gathers them for whitenoise)
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert f"drf_spectacular_sidecar/swagger-ui-dist/{name}" in page
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{name}") is not None


@pytest.mark.django_db
def test_schema_documents_error_answers(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    responses = schema["paths"]["/api/v1/callback-profiles/{id}/"]["patch"]["responses"]
    assert {"200", "400", "401", "403", "404", "429"} <= set(responses)
    assert responses["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
