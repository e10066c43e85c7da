"""The profile services beyond the API: concurrent health counters, rotation, status, balance rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callbacks import event_types
from callbacks.models import CallbackProfile
from callbacks.services.accounts import account_update, balance_parse
from callbacks.services.profile_rules import profile_values_clean
from callbacks.services.profiles import (
    EDITABLE_FIELDS,
    profile_create,
    profile_secret_rotate,
    profile_status_set,
    profile_update,
)


@pytest.mark.django_db
def test_an_update_never_overwrites_health_counters_the_engine_wrote_meanwhile(account):
    # given a profile loaded by a screen before the engine recorded failures
    profile = profile_create(account=account, name="Orders", url="http://127.0.0.1:9/x")
    seen_by_screen = CallbackProfile.objects.get(pk=profile.pk)
    now = timezone.now()
    CallbackProfile.objects.filter(pk=profile.pk).update(consecutive_failures=7, last_failure_at=now)
    # when the screen saves a change of name from its stale copy
    profile_update(profile=seen_by_screen, name="Orders EU")
    # then the counters the engine wrote survive, and the caller's copy shows them
    stored = CallbackProfile.objects.get(pk=profile.pk)
    assert (stored.name, stored.consecutive_failures, stored.last_failure_at) == ("Orders EU", 7, now)
    assert seen_by_screen.consecutive_failures == 7


@pytest.mark.django_db
def test_rotating_twice_keeps_only_the_latest_previous_secret(account):
    profile = profile_create(account=account, name="Orders", url="http://127.0.0.1:9/x")
    first = profile.new_signing_secret
    second = profile_secret_rotate(profile=profile)
    third = profile_secret_rotate(profile=profile)
    stored = CallbackProfile.objects.get(pk=profile.pk)
    assert len({first, second, third}) == 3
    assert (stored.signing_secret, stored.previous_signing_secret) == (third, second)


@pytest.mark.django_db
def test_status_set_by_health_marks_abnormal_with_its_reason(account):
    profile = profile_create(account=account, name="Orders", url="http://127.0.0.1:9/x")
    profile_status_set(profile=profile, status="abnormal", reason="failing since 09:00")
    stored = CallbackProfile.objects.get(pk=profile.pk)
    assert (stored.status, stored.status_reason) == ("abnormal", "failing since 09:00")
    assert stored.abnormal_since is not None
    with pytest.raises(ValidationError) as error:
        profile_status_set(profile=profile, status="sleeping")
    assert "status" in error.value.message_dict


@pytest.mark.django_db
def test_services_accept_event_type_rows_as_well_as_codes(account):
    from callbacks.models import EventType

    profile = profile_create(
        account=account,
        name="Orders",
        url="http://127.0.0.1:9/x",
        event_types=EventType.objects.filter(code__in=[event_types.OTP_SENT, event_types.OTP_VERIFIED]),
    )
    assert sorted(profile.event_types.values_list("code", flat=True)) == [
        event_types.OTP_SENT,
        event_types.OTP_VERIFIED,
    ]


@pytest.mark.django_db
def test_unknown_fields_are_a_programming_error(account):
    with pytest.raises(TypeError, match="signing_secret"):
        profile_create(account=account, name="x", url="http://127.0.0.1:9/x", signing_secret="whsec_mine")


@pytest.mark.parametrize(
    ("value", "expected"), [("12.5", Decimal("12.50")), (7, Decimal("7.00")), ("-3.10", Decimal("-3.10"))]
)
def test_balances_are_read_as_cents(value, expected):
    assert balance_parse(value) == expected


@pytest.mark.parametrize("value", ["1.005", "NaN", "Infinity", "", None, True, "1e20"])
def test_balances_that_are_not_amounts_are_refused(value):
    with pytest.raises(ValidationError) as error:
        balance_parse(value)
    assert "balance_usd" in error.value.message_dict


@pytest.mark.django_db
def test_account_update_names_every_bad_field(account):
    with pytest.raises(ValidationError) as error:
        account_update(account=account, timezone="Mars/Olympus", admin_email="nope", name="")
    assert set(error.value.message_dict) == {"timezone", "admin_email", "name"}


@pytest.mark.django_db
def test_a_change_from_a_stale_copy_is_validated_against_what_was_saved_since(account):
    # given a screen holding a POST profile while another saves it as GET without a body
    profile = profile_create(account=account, name="Orders", url="http://127.0.0.1:9/x")
    stale = CallbackProfile.objects.get(pk=profile.pk)
    profile_update(profile=profile, http_method="GET")
    # when the stale screen adds a body / then the rule is checked against the saved GET
    with pytest.raises(ValidationError) as error:
        profile_update(profile=stale, body_template='{"a": 1}')
    assert "GET requests carry no body" in error.value.message_dict["body_template"][0]


@pytest.mark.django_db
def test_numbers_beyond_floats_are_refused_not_crashed_on(account):
    # given values a form could send that no float can hold
    with pytest.raises(ValidationError) as error:
        profile_create(
            account=account,
            name="Orders",
            url="http://127.0.0.1:9/x",
            max_in_flight="1e400",
            retry_schedule_s=["1e400"],
            connect_timeout_s="nan",
        )
    # then each is a field error
    assert {"max_in_flight", "retry_schedule_s", "connect_timeout_s"} <= set(error.value.message_dict)


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
ANY_VALUE = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
VALID_BASE = {
    "name": "Orders",
    "url": "http://127.0.0.1:9/x",
    "http_method": "POST",
    "body_type": "json",
    "sign_standard_webhooks": True,
    "sign_md5": False,
    "encryption_cipher": "",
    "encryption_iv_random": True,
    "batch_max_size": 1,
    "batch_max_wait_ms": 0,
    "response_contract": "http",
    "connect_timeout_s": 5,
    "response_timeout_s": 60,
    "max_in_flight": 20,
}


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({}, optional={name: ANY_VALUE for name in (*EDITABLE_FIELDS, "event_types")}))
def test_any_values_give_field_errors_never_a_crash(changes):
    # given whatever a form or a caller might pass for any field
    try:
        cleaned = profile_values_clean({**VALID_BASE, **changes})
    except ValidationError as error:
        # then a refusal names only known fields
        assert set(error.message_dict) <= {*EDITABLE_FIELDS, "event_types"}
    else:
        # or the values are clean and typed
        assert isinstance(cleaned["headers"], dict) and isinstance(cleaned["event_types"], list)
