"""Malformed query strings and form input in the screens are ignored or refused, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client

from callbacks import event_types
from callbacks.models import Account, CallbackProfile, Membership
from callbacks.services.events import event_emit
from tests.factories import AccountFactory, CallbackProfileFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(account) -> Client:
    membership = MembershipFactory(account=account, role=Membership.Role.OWNER)
    client = Client(raise_request_exception=False)
    client.force_login(membership.user)
    client.user = membership.user
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/callbacks/delivery/?profile=garbage",
        "/admin/callbacks/delivery/?profile=",
        "/admin/callbacks/delivery/?within=forever",
        "/admin/callbacks/callbackprofile/?created_at__from=2026-13-45",
        "/admin/callbacks/callbackprofile/?created_at__to=9999-12-31",
        "/admin/callbacks/callbackprofile/?created_at__from=0001-01-01&created_at__to=9999-12-31",
        "/admin/callbacks/callbackprofile/?status=nonsense",
        "/admin/callbacks/callbackprofile/?q=%00",
        "/admin/callbacks/delivery/?q=a%00b",
        "/admin/reports/?frequency=%00",
        "/admin/callbacks/callbackprofile/?o=99",
        "/admin/callbacks/delivery/?p=-1",
    ],
)
def test_malformed_query_strings_are_ignored_or_400(owner_client, account, path):
    CallbackProfileFactory(account=account)
    response = owner_client.get(path)
    assert response.status_code < 500, (path, response.status_code)
    assert response.status_code in (200, 302, 400)


def test_a_date_filter_that_is_no_date_says_so(owner_client, account):
    CallbackProfileFactory(account=account, name="Orders")
    page = owner_client.get("/admin/callbacks/callbackprofile/?created_at__from=2026-13-45").content.decode()
    assert "2026-13-45" in page and "is not a date" in page
    assert "Orders" in page


@pytest.mark.parametrize("value", ["not-a-uuid", "", "00000000-0000-0000-0000-000000000000"])
def test_switching_to_a_malformed_account_is_404(owner_client, value):
    response = owner_client.post("/admin/account/switch/", {"account": value})
    assert response.status_code == 404


def test_a_headers_box_nested_5000_levels_is_a_form_error(owner_client, account):
    nested = '{"a":' * 5000 + "1" + "}" * 5000
    response = owner_client.post(
        "/admin/callbacks/callbackprofile/add/",
        {"name": "Deep", "url": "http://127.0.0.1:9/deep", "http_method": "POST", "headers": nested},
    )
    assert response.status_code == 200
    assert "nested" in response.content.decode()
    assert not CallbackProfile.objects.filter(name="Deep").exists()


def test_a_replay_range_out_of_bounds_is_a_form_error(owner_client, account):
    profile = CallbackProfileFactory(account=account)
    response = owner_client.post(
        "/admin/callbacks/delivery/replay/",
        {
            "profile": str(profile.pk),
            "created_after": "0001-01-01T00:00",
            "created_before": "9999-12-31T23:59",
            "state": "failed",
        },
    )
    assert response.status_code == 200
    assert "between 1970-01-01 and 2999-12-31" in response.content.decode()


def test_an_account_name_with_a_line_break_is_a_form_error(owner_client, account):
    response = owner_client.post(
        f"/admin/callbacks/account/{account.pk}/change/",
        {"name": "Acme\r\nBcc: x@evil.test", "timezone": "UTC", "admin_email": "ops@acme.test", "balance_usd": "0"},
    )
    assert response.status_code == 200
    assert "no line breaks" in response.content.decode()
    assert "\n" not in Account.objects.get(pk=account.pk).name


def test_opening_an_object_of_another_own_account_asks_before_switching(owner_client, account):
    # given the user also owns a second account, which has a profile; the first is current
    second = AccountFactory(name="Zeta Second")
    MembershipFactory(account=second, user=owner_client.user, role=Membership.Role.OWNER)
    owner_client.post("/admin/account/switch/", {"account": str(account.pk)})
    profile = CallbackProfileFactory(account=second, name="Zeta orders")
    # when a link to it is opened
    response = owner_client.get(f"/admin/callbacks/callbackprofile/{profile.pk}/change/")
    # then the page says which account it belongs to and offers the switch, without making it
    page = response.content.decode()
    assert response.status_code == 200
    assert "Zeta Second" in page and 'data-testid="switch-account"' in page
    assert "Zeta orders" not in page
    assert owner_client.session["callback_center_account_id"] == str(account.pk)
    # and switching from there lands on the object
    switched = owner_client.post(
        "/admin/account/switch/",
        {"account": str(second.pk), "next": f"/admin/callbacks/callbackprofile/{profile.pk}/change/"},
    )
    assert switched.status_code == 302
    assert "Zeta orders" in owner_client.get(switched["Location"]).content.decode()


def test_event_data_with_nul_in_the_delivery_log_search(owner_client, account):
    event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"note": "ok"})
    response = owner_client.get("/admin/callbacks/delivery/", {"q": "x\x00y"})
    assert response.status_code == 400
