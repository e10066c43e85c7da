"""Alert thresholds and e-mail receivers: defaults, changes, and clear errors naming what is wrong."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from alerts.selectors import alert_recipients_get, alert_settings_get
from alerts.services.settings import alert_settings_update


@pytest.mark.django_db
def test_defaults_are_off_with_sensible_thresholds(account):
    alert_settings = alert_settings_get(account=account)
    assert (alert_settings.timeout_enabled, alert_settings.rate_enabled, alert_settings.balance_enabled) == (
        False,
        False,
        False,
    )
    assert alert_settings.rate_window_minutes == 60
    assert alert_settings.rate_min_sample == 20
    assert alert_settings.reminder_quiet_hours == 24


@pytest.mark.django_db
def test_update_changes_only_the_fields_given(account):
    alert_settings_update(account=account, timeout_enabled=True, timeout_minutes="5", rate_min_percent=70)
    alert_settings_update(account=account, balance_threshold_usd=100)
    alert_settings = alert_settings_get(account=account)
    assert alert_settings.timeout_enabled is True
    assert alert_settings.timeout_minutes == 5
    assert alert_settings.rate_min_percent == 70
    assert alert_settings.balance_threshold_usd == 100


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "must be a positive whole number of USD (got 0)"),
        ("-5", "must be a positive whole number of USD (got -5)"),
        ("10.50", "must be a whole number of USD, without decimals (got 10.50)"),
        (12.5, "must be a whole number of USD, without decimals (got 12.5)"),
        ("ten", "“ten” is not a number"),
        ("", "Enter the balance threshold as a whole number of USD."),
    ],
)
def test_balance_threshold_must_be_a_positive_whole_number_of_usd(account, value, expected):
    with pytest.raises(ValidationError) as error:
        alert_settings_update(account=account, balance_threshold_usd=value)
    assert expected in error.value.message_dict["balance_threshold_usd"][0]
    assert alert_settings_get(account=account).balance_threshold_usd == 50


@pytest.mark.django_db
def test_minutes_and_percentage_are_checked_and_nothing_is_saved_on_error(account):
    with pytest.raises(ValidationError) as error:
        alert_settings_update(account=account, timeout_minutes=0, rate_min_percent=101, rate_enabled=True)
    assert (
        "verification timeout must be a positive whole number of minutes"
        in error.value.message_dict["timeout_minutes"][0]
    )
    assert error.value.message_dict["rate_min_percent"] == [
        "The minimum verification rate must be at most 100 percent."
    ]
    assert alert_settings_get(account=account).rate_enabled is False


@pytest.mark.django_db
def test_up_to_five_emails_comma_separated(account):
    alert_settings_update(account=account, emails=" ops@acme.test, cto@acme.test ,,OPS@acme.test")
    assert alert_recipients_get(account=account).emails == ["ops@acme.test", "cto@acme.test"]


@pytest.mark.django_db
def test_a_bad_email_is_named(account):
    with pytest.raises(ValidationError) as error:
        alert_settings_update(account=account, emails="ops@acme.test, not-an-address, cto@acme.test")
    assert error.value.message_dict["emails"] == ["“not-an-address” is not a valid e-mail address."]


@pytest.mark.django_db
def test_more_than_five_emails_are_refused(account):
    six = ",".join(f"person{n}@acme.test" for n in range(6))
    with pytest.raises(ValidationError) as error:
        alert_settings_update(account=account, emails=six)
    assert error.value.message_dict["emails"] == ["At most 5 addresses (6 given)."]
    assert alert_recipients_get(account=account).emails == []


@pytest.mark.django_db
@pytest.mark.parametrize("value", [True, 5, {"a": "b@c.test"}, ["ok@acme.test", 7]])
def test_emails_of_the_wrong_shape_are_refused_not_crashed_on(account, value):
    with pytest.raises(ValidationError) as error:
        alert_settings_update(account=account, emails=value)
    assert error.value.message_dict["emails"] == [
        "Give the addresses as text separated by commas, or as a list of texts."
    ]
