"""Report settings: frequencies and recipient addresses, through the services and the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from reports.models import ReportSubscription
from reports.services import report_settings_get, report_settings_update

NOW = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)


def test_settings_of_a_new_account_have_nothing_enabled(account):
    subscription = report_settings_get(account=account)

    assert subscription.frequencies == []
    assert subscription.pk is None


def test_update_stores_frequencies_and_comma_separated_addresses(account):
    # when two frequencies and three addresses (one repeated, spaces around) are saved
    report_settings_update(
        account=account,
        frequencies=["daily", "monthly"],
        recipients=" ops@example.com, cfo@example.com ,OPS@example.com,; team@example.org",
        now=NOW,
    )

    # then they are stored, deduplicated, and each frequency remembers when it was turned on
    subscription = report_settings_get(account=account)
    assert subscription.frequencies == ["daily", "monthly"]
    assert subscription.recipients == ["ops@example.com", "cfo@example.com", "team@example.org"]
    assert subscription.daily_since == NOW
    assert subscription.weekly_since is None


def test_turning_a_frequency_on_again_keeps_or_resets_its_start(account):
    report_settings_update(account=account, frequencies=["weekly"], recipients=[], now=NOW)
    later = NOW + dt.timedelta(days=3)

    report_settings_update(account=account, frequencies=["weekly", "daily"], recipients=[], now=later)

    subscription = ReportSubscription.objects.get(account=account)
    assert subscription.weekly_since == NOW
    assert subscription.daily_since == later


def test_a_bad_address_is_named_in_the_error(account):
    with pytest.raises(ValidationError) as error:
        report_settings_update(
            account=account, frequencies=["daily"], recipients="ok@example.com, not-an-address@, x@example.com"
        )

    assert "not-an-address@" in str(error.value.message_dict["recipients"])
    assert not ReportSubscription.objects.filter(account=account).exists()


def test_more_than_five_addresses_are_refused(account):
    addresses = [f"person{number}@example.com" for number in range(6)]

    with pytest.raises(ValidationError) as error:
        report_settings_update(account=account, frequencies=["daily"], recipients=addresses)

    assert "At most 5" in error.value.message_dict["recipients"][0]


def test_an_unknown_frequency_is_refused(account):
    with pytest.raises(ValidationError) as error:
        report_settings_update(account=account, frequencies=["hourly"], recipients=[])

    assert "“hourly”" in error.value.message_dict["frequencies"][0]


def test_without_addresses_reports_go_to_the_admin_email(account):
    subscription = report_settings_update(account=account, frequencies=["daily"], recipients="")

    assert subscription.effective_recipients == [account.admin_email]
