"""API keys, the account, switching accounts, and what another account's user sees (nothing)."""

from __future__ import annotations

import pytest

from callbacks.models import ApiKey, Membership
from callbacks.services.api_keys import api_key_authenticate
from callbacks.services.profiles import profile_create
from tests.e2e.conftest import expect, login, shot
from tests.factories import AccountFactory, MembershipFactory

pytestmark = pytest.mark.e2e


def test_api_key_is_shown_once_listed_and_revoked(page, live_server, owner, owner_account):
    # given a signed-in customer on the API keys screen
    login(page, live_server, owner)
    page.locator(".cc-nav").get_by_role("link", name="API keys").click()
    expect(page.locator("h1")).to_contain_text("API key")

    # when they create a read-only key without a scope first, then with one
    page.get_by_role("link", name="Add API key").click()
    page.fill("#id_name", "Billing system")
    page.uncheck("input[name=scope_choices][value=write]")
    page.uncheck("input[name=scope_choices][value=read]")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".field-scope_choices .errorlist")).to_contain_text("Choose one or more")
    page.check("input[name=scope_choices][value=read]")
    page.fill("#id_expires_in_days", "30")
    shot(page, "10-api-key-create")
    page.get_by_role("button", name="Save", exact=True).click()

    # then the full key is shown once, and it works until revoked
    raw_key = page.get_by_test_id("raw-key").inner_text()
    key = ApiKey.objects.get()
    assert raw_key.startswith(key.prefix + "_") and key.scopes == ["read"] and key.account == owner_account
    assert api_key_authenticate(raw_key=raw_key) is not None
    shot(page, "11-api-key-shown-once")
    page.reload()
    expect(page.get_by_test_id("raw-key")).to_have_count(0)
    expect(page.locator("#content")).to_contain_text("already shown")

    page.get_by_role("link", name="Back to API keys").click()
    row = page.locator("#result_list tbody tr", has_text="Billing system")
    expect(row).to_contain_text(key.prefix)
    expect(row).to_contain_text("read")
    expect(row).to_contain_text("Active")
    # with its times written as the delivery log writes them
    expect(row).to_contain_text(key.created_at.strftime("%Y-%m-%d %H:%M"))
    expect(row).to_contain_text(key.expires_at.strftime("%Y-%m-%d %H:%M"))
    shot(page, "12-api-keys")
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".messagelist")).to_contain_text("revoked")
    expect(page.locator("#result_list tbody tr", has_text="Billing system")).to_contain_text("Revoked")
    assert api_key_authenticate(raw_key=raw_key) is None


def test_account_settings_go_through_the_service_with_errors_beside_fields(page, live_server, owner, owner_account):
    # given the account page
    login(page, live_server, owner)
    page.locator(".cc-nav").get_by_role("link", name="Account").click()
    expect(page.locator("h1")).to_have_text("Account")  # not "Change account", read as switching to another
    expect(page.locator("#id_timezone")).to_have_value("UTC")

    # when a wrong admin e-mail is entered with a new time zone and key, then fixed
    page.select_option("#id_timezone", "Europe/Berlin")
    page.fill("#id_admin_email", "not-an-address")
    page.fill("#id_platform_api_key", "new-platform-key")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".field-admin_email .errorlist")).to_be_visible()
    owner_account.refresh_from_db()
    assert owner_account.timezone == "UTC"  # nothing written by a failed save
    # the time zone stays picked and the typed key is kept
    expect(page.locator("#id_timezone")).to_have_value("Europe/Berlin")
    expect(page.locator("#id_platform_api_key")).to_have_value("new-platform-key")
    page.fill("#id_admin_email", "ops@acme.example")
    page.get_by_role("button", name="Save", exact=True).click()

    # then it is saved
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")
    owner_account.refresh_from_db()
    assert owner_account.timezone == "Europe/Berlin"
    assert owner_account.platform_api_key == "new-platform-key"
    shot(page, "13-account")


def test_a_user_in_two_accounts_switches_between_them(page, live_server, owner, owner_account):
    # given the owner is also a viewer of a second account with its own profile
    second = AccountFactory(name="Zeta Retail")
    Membership.objects.create(user=owner, account=second, role=Membership.Role.VIEWER)
    profile_create(account=owner_account, name="Acme orders", url="http://127.0.0.1:9/a")
    zeta = profile_create(
        account=second,
        name="Zeta receipts",
        url="http://127.0.0.1:9/z",
        auth_username="zeta",
        auth_password="hunter2-secret",
    )
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/")
    expect(page.locator("#result_list")).to_contain_text("Acme orders")
    expect(page.locator("#result_list")).not_to_contain_text("Zeta receipts")

    # when they switch account in the header
    page.select_option("#cc-account", label="Zeta Retail")

    # then they see the second account's profiles only, read-only as a viewer
    expect(page.locator(".messagelist")).to_contain_text("now working in “Zeta Retail”")
    expect(page.locator("#result_list")).to_contain_text("Zeta receipts")
    expect(page.locator("#result_list")).not_to_contain_text("Acme orders")
    expect(page.get_by_role("button", name="Disable")).to_have_count(0)
    expect(page.get_by_role("link", name="Add callback")).to_have_count(0)
    shot(page, "14-switched-account")

    # and the viewer's look at a profile shows whether secrets are set, never their value
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/{zeta.pk}/change/")
    expect(page.locator(".field-auth_password_state")).to_contain_text("set")
    expect(page.locator("#content")).not_to_contain_text("hunter2-secret")
    expect(page.get_by_role("button", name="Save", exact=True)).to_have_count(0)
    shot(page, "14b-viewer-profile")
    page.locator(".cc-nav").get_by_role("link", name="Account").click()
    expect(page.locator(".field-platform_api_key_state")).to_contain_text("set")
    expect(page.locator("#content")).not_to_contain_text(second.platform_api_key)


def test_another_accounts_user_sees_none_of_it(page, live_server, owner_account, stranger, receiver):
    # given the first account's profile, key and delivery data
    profile = profile_create(account=owner_account, name="Acme orders", url=receiver.url())
    from callbacks.services.api_keys import api_key_create

    key, _ = api_key_create(account=owner_account, name="Acme key")
    from callbacks import event_types
    from callbacks.services.events import event_emit
    from callbacks.services.profiles import profile_update

    profile_update(profile=profile, event_types=[event_types.OTP_SENT])
    event = event_emit(account=owner_account, type=event_types.OTP_SENT, data={"message_id": "acme-otp", "phone": "+1"})
    delivery = event.deliveries.get()
    from alerts.services.settings import alert_settings_update

    alert_settings_update(account=owner_account, emails="acme-ops@example.com")

    # when the other account's owner signs in
    login(page, live_server, stranger)
    expect(page.locator(".cc-user-tools")).to_contain_text("Globex")

    # then lists are empty and direct addresses answer 404
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/")
    expect(page.locator("#content")).not_to_contain_text("Acme orders")
    page.goto(f"{live_server.url}/admin/callbacks/apikey/")
    expect(page.locator("#content")).not_to_contain_text("Acme key")
    for path in (
        f"callbacks/callbackprofile/{profile.pk}/change/",
        f"callbacks/callbackprofile/{profile.pk}/delete/",
        f"callbacks/apikey/{key.pk}/created/",
        f"callbacks/account/{owner_account.pk}/change/",
        f"callbacks/delivery/{delivery.pk}/change/",
    ):
        response = page.goto(f"{live_server.url}/admin/{path}")
        assert response.status == 404, path
    response = page.request.post(
        f"{live_server.url}/admin/callbacks/callbackprofile/{profile.pk}/refresh/", headers={"X-CSRFToken": _csrf(page)}
    )
    assert response.status == 404
    response = page.request.post(
        f"{live_server.url}/admin/callbacks/delivery/{delivery.pk}/retry/", headers={"X-CSRFToken": _csrf(page)}
    )
    assert response.status == 404
    page.goto(f"{live_server.url}/admin/callbacks/delivery/?q=acme-otp")
    expect(page.locator("#result_list")).to_have_count(0)
    page.goto(f"{live_server.url}/admin/callbacks/delivery/")
    expect(page.locator("#result_list")).to_have_count(0)
    expect(page.locator("#changelist-filter")).not_to_contain_text("Acme orders")
    page.goto(f"{live_server.url}/admin/alerts/configure/")
    expect(page.locator("#id_emails")).to_have_value("")
    page.goto(f"{live_server.url}/admin/")
    expect(page.get_by_test_id("chart-24h").locator(".cc-kpi.ok b")).to_have_text("0")
    shot(page, "15-other-account-404")
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/")
    shot(page, "16-other-account-empty-list")


def test_a_staff_user_without_membership_cannot_enter(page, live_server):
    # given a staff user who belongs to no account
    membership = MembershipFactory()
    user = membership.user
    membership.delete()

    # when they sign in, then the screens stay closed
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "correct horse battery staple")
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_be_visible()
    shot(page, "17-login-refused")


def _csrf(page) -> str:
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    return cookies.get("csrftoken", "")


def test_a_superuser_sees_every_account(page, live_server, owner_account, stranger):
    # given profiles in two accounts and an operator
    from django.contrib.auth import get_user_model

    other_account = stranger.memberships.get().account
    profile_create(account=owner_account, name="Acme orders", url="http://127.0.0.1:9/a")
    profile_create(account=other_account, name="Globex receipts", url="http://127.0.0.1:9/g")
    operator = get_user_model().objects.create_superuser("operator", "op@example.com", "correct horse battery staple")

    # when the operator opens the callback settings
    login(page, live_server, operator)
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/")

    # then both accounts' profiles are listed, with their account, and the account filter offers both
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Acme orders")).to_contain_text("Acme Messaging")
    expect(rows.filter(has_text="Globex receipts")).to_contain_text("Globex")
    page.goto(f"{live_server.url}/admin/callbacks/account/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    shot(page, "18-operator-accounts")


def test_the_operators_users_screen_speaks_of_accounts_and_roles(page, live_server, owner, owner_account, stranger):
    # given two customers and an operator
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_superuser("operator", "op@example.com", "correct horse battery staple")
    login(page, live_server, operator)

    # when the operator opens Users
    page.locator(".cc-nav").get_by_role("link", name="Users").click()

    # then each user shows its accounts and roles and whether it is an operator, in the product's words
    expect(page.locator("h1")).to_have_text("Users")
    rows = page.locator("#result_list tbody tr")
    expect(rows.filter(has_text=owner.username)).to_contain_text("Acme Messaging (owner)")
    expect(rows.filter(has_text=stranger.username)).to_contain_text("Globex (owner)")
    expect(rows.filter(has_text="operator")).to_contain_text("Operator")
    # with none of Django's own chrome: no bulk action bar, no filter counts, no "staff status"
    expect(page.locator("#changelist-form .actions")).to_have_count(0)
    expect(page.get_by_text("Show counts")).to_have_count(0)
    expect(page.locator("#changelist")).not_to_contain_text("Staff status")
    shot(page, "19-operator-users")

    # and a user's page offers what matters here: name, e-mail, active, operator; no groups or permissions
    rows.filter(has_text=owner.username).get_by_role("link", name=owner.username).click()
    expect(page.locator("h1")).to_have_text("User")
    expect(page.locator("#id_is_superuser")).to_be_visible()
    expect(page.locator("#id_groups")).to_have_count(0)
    expect(page.locator("#id_user_permissions")).to_have_count(0)
    expect(page.locator("#id_is_staff")).to_have_count(0)
    expect(page.locator("label[for=id_is_superuser]")).to_have_text("Operator")
    expect(page.get_by_role("button", name="Save and add another")).to_have_count(0)
    shot(page, "20-operator-user")
    # and Django's History of a user is not one of the screens
    assert page.goto(f"{page.url}history/").status == 404


def test_an_operator_added_on_the_users_screen_can_sign_in(page, live_server):
    # given an operator
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_superuser("operator", "op@example.com", "correct horse battery staple")
    login(page, live_server, operator)

    # when they add a second operator with a password
    page.goto(f"{live_server.url}/admin/auth/user/add/")
    expect(page.get_by_text("Single Sign-On")).to_have_count(0)
    page.fill("#id_username", "second")
    page.fill("#id_email", "second@example.com")
    page.fill("#id_password1", "correct horse battery staple")
    page.fill("#id_password2", "correct horse battery staple")
    page.check("#id_is_superuser")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("h1")).to_have_text("User")

    # then the new operator signs in and reaches the operators' screens
    page.get_by_role("button", name="Log out").click()
    login(page, live_server, get_user_model().objects.get(username="second"))
    expect(page.locator(".cc-nav").get_by_role("link", name="Users")).to_be_visible()
