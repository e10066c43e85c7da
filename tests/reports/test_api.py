"""The reports API: settings, history and one report as JSON or CSV, scoped to the key's account."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from reports.services import report_settings_update, reports_send_due
from tests.conftest import api_client_for
from tests.factories import CallbackProfileFactory
from tests.reports.factories import DeliveryStatsFactory

UTC = dt.UTC


@pytest.fixture
def sent_reports(account):
    """Two daily reports of `account` (UTC), the later one counting 12 delivered and 3 failed."""
    report_settings_update(
        account=account, frequencies=["daily"], recipients="ops@example.com", now=dt.datetime(2026, 6, 8, tzinfo=UTC)
    )
    profile = CallbackProfileFactory(account=account, name="Orders")
    DeliveryStatsFactory(profile=profile, hour=dt.datetime(2026, 6, 9, 20, tzinfo=UTC), delivered=12, failed=3)
    return reports_send_due(now=dt.datetime(2026, 6, 10, 17, 5, tzinfo=UTC))


def test_settings_round_trip(api):
    # when settings are put with a comma-separated string
    answer = api.put(
        "/api/v1/report-settings/",
        {"frequencies": ["weekly", "monthly"], "recipients": "a@example.com, b@example.com"},
        format="json",
    )

    # then they are answered back with the next send times, and a GET shows the same
    assert answer.status_code == 200, answer.content
    assert answer.json()["frequencies"] == ["weekly", "monthly"]
    assert answer.json()["recipients"] == ["a@example.com", "b@example.com"]
    assert set(answer.json()["next_send_at"]) == {"weekly", "monthly"}
    assert api.get("/api/v1/report-settings/").json() == answer.json()


def test_settings_error_names_the_bad_address(api):
    answer = api.put(
        "/api/v1/report-settings/",
        {"frequencies": ["daily"], "recipients": ["ok@example.com", "broken@@example.com"]},
        format="json",
    )

    assert answer.status_code == 400
    assert "broken@@example.com" in answer.json()["recipients"][0]


def test_settings_refuse_an_unknown_frequency(api):
    answer = api.put("/api/v1/report-settings/", {"frequencies": ["hourly"], "recipients": []}, format="json")

    assert answer.status_code == 400
    assert "frequencies" in answer.json()


def test_changing_settings_needs_the_write_scope(account):
    reader = api_client_for(account, scopes=("read",))

    answer = reader.put("/api/v1/report-settings/", {"frequencies": ["daily"], "recipients": []}, format="json")

    assert answer.status_code == 403


def test_history_lists_the_accounts_reports_newest_first(api, other_api, sent_reports):
    answer = api.get("/api/v1/reports/")

    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [item["id"] for item in results] == [str(report.pk) for report in reversed(sent_reports)]
    assert results[0]["delivered_count"] == 12
    assert results[0]["failed_count"] == 3
    assert results[0]["status"] == "sent"
    assert results[0]["success_rate"] == 80.0
    assert other_api.get("/api/v1/reports/").json()["results"] == []


def test_one_report_as_json(api, sent_reports):
    report = sent_reports[-1]

    answer = api.get(f"/api/v1/reports/{report.pk}/")

    assert answer.status_code == 200
    body = answer.json()
    assert body["period_start"] == "2026-06-09T17:00:00Z"
    assert body["period_end"] == "2026-06-10T17:00:00Z"
    assert body["per_profile_counts"][0]["profile_name"] == "Orders"
    assert body["failures_by_class"] == {"http_status": 3}
    assert body["recipients"] == ["ops@example.com"]


@pytest.mark.parametrize("how", ["query", "accept"])
def test_one_report_as_csv(api, sent_reports, how):
    report = sent_reports[-1]
    url = f"/api/v1/reports/{report.pk}/"

    answer = api.get(url + "?format=csv") if how == "query" else api.get(url, HTTP_ACCEPT="text/csv")

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    assert 'filename="callback-report-daily-2026-06-10.csv"' in answer["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert [(row["profile_name"], row["delivered"], row["failed"]) for row in rows] == [("Orders", "12", "3")]


def test_another_accounts_report_is_not_found(other_api, sent_reports):
    report = sent_reports[-1]

    assert other_api.get(f"/api/v1/reports/{report.pk}/").status_code == 404
    assert other_api.get(f"/api/v1/reports/{report.pk}/?format=csv").status_code == 404
    assert other_api.get("/api/v1/reports/not-a-uuid/").status_code == 404


def test_the_api_needs_a_key(client):
    assert client.get("/api/v1/reports/").status_code == 401
