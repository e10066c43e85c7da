"""`/api/v1/alert-settings/` and `/api/v1/alerts/`: the caller's account only, errors naming the field."""

from __future__ import annotations

import pytest

from alerts.models import Alert
from alerts.schedules import SCHEDULES, schedules_register
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def test_get_shows_thresholds_receivers_and_the_start_bot_link(api, settings):
    api.post("/api/v1/alert-settings/telegram/link/")
    response = api.get("/api/v1/alert-settings/")
    assert response.status_code == 200
    body = response.json()
    assert body["balance_enabled"] is False
    assert body["rate_min_sample"] == 20
    assert body["emails"] == []
    assert body["telegram"]["bound"] is False
    assert body["telegram"]["start_link"].startswith(f"https://t.me/{settings.TELEGRAM_BOT_USERNAME}?start=")


def test_the_start_bot_link_is_null_while_no_bot_is_configured(api, settings):
    # given a server without a Telegram bot
    settings.TELEGRAM_BOT_USERNAME = ""
    # when a link is asked for
    body = api.post("/api/v1/alert-settings/telegram/link/").json()
    # then no link to a nameless bot is offered
    assert body["telegram"]["start_link"] is None
    assert body["telegram"]["bound"] is False


def test_put_changes_settings_and_emails(api):
    response = api.put(
        "/api/v1/alert-settings/",
        {"balance_enabled": True, "balance_threshold_usd": 25, "emails": "ops@acme.test, cto@acme.test"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = api.get("/api/v1/alert-settings/").json()
    assert (body["balance_enabled"], body["balance_threshold_usd"]) == (True, 25)
    assert body["emails"] == ["ops@acme.test", "cto@acme.test"]


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"balance_threshold_usd": 0}, "balance_threshold_usd", "positive whole number of USD"),
        ({"balance_threshold_usd": "9.99"}, "balance_threshold_usd", "without decimals"),
        ({"balance_threshold_usd": -3}, "balance_threshold_usd", "positive whole number of USD"),
        ({"emails": ["ok@acme.test", "nope"]}, "emails", "“nope” is not a valid e-mail address."),
        ({"rate_min_percent": 150}, "rate_min_percent", "at most 100 percent"),
        ({"rate_enabled": "maybe"}, "rate_enabled", "Enter true or false"),
    ],
)
def test_put_refuses_bad_values_naming_the_field(api, payload, field, message):
    response = api.put("/api/v1/alert-settings/", payload, format="json")
    assert response.status_code == 400
    assert message in response.json()[field][0]


def test_put_needs_the_write_scope(account):
    reader = api_client_for(account, scopes=("read",))
    assert reader.get("/api/v1/alert-settings/").status_code == 200
    assert reader.put("/api/v1/alert-settings/", {"rate_enabled": True}, format="json").status_code == 403


def test_reacquire_issues_a_new_link(api):
    first = api.post("/api/v1/alert-settings/telegram/link/").json()["telegram"]["start_link"]
    assert first is not None
    response = api.post("/api/v1/alert-settings/telegram/reacquire/")
    assert response.status_code == 200
    assert response.json()["telegram"]["start_link"] != first


def test_alerts_list_shows_only_the_callers_alerts(api, other_api, account, other_account):
    Alert.objects.create(account=account, kind="balance_low", value=10, threshold=50, message="Balance low")
    Alert.objects.create(account=other_account, kind="balance_low", value=1, threshold=5, message="Other")
    Alert.objects.create(
        account=account,
        kind="verification_rate_low",
        value=5,
        threshold=70,
        message="Rate",
        resolved_at="2026-01-01T00:00Z",
    )
    body = api.get("/api/v1/alerts/").json()
    assert body["count"] == 2
    assert {item["message"] for item in body["results"]} == {"Balance low", "Rate"}
    firing = api.get("/api/v1/alerts/?state=firing").json()["results"]
    assert [(item["kind"], item["state"]) for item in firing] == [("balance_low", "firing")]
    assert other_api.get("/api/v1/alerts/").json()["count"] == 1


def test_schedules_are_registered_after_migrate_and_idempotently():
    from django_q.models import Schedule

    names = [name for name, _, _ in SCHEDULES]
    assert set(Schedule.objects.filter(name__in=names).values_list("name", flat=True)) == set(names)
    schedules_register()
    schedules_register()
    assert Schedule.objects.filter(name__in=names).count() == len(names)
    assert Schedule.objects.get(name="alerts.alerts_check").func == "alerts.tasks.alerts_check_all"
