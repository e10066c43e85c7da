"""Members: invited by e-mail and role, welcomed by a link to choose a password; never a Django user form."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from callbacks.models import Membership
from tests.e2e.conftest import DESKTOP, PASSWORD, PHONE, expect, login, shot
from tests.factories import AccountFactory, MembershipFactory

pytestmark = pytest.mark.e2e

SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]
NEW_PASSWORD = "a long new password 42"


def _welcome_path() -> str:
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/admin/welcome/\S+/", mail.outbox[0].body).group(0)
    return "/admin/welcome/" + link.split("/admin/welcome/", 1)[1]


@pytest.mark.parametrize("size", SIZES)
def test_an_owner_invites_a_colleague_who_sets_a_password_and_signs_in(
    page, browser, live_server, owner, owner_account, size
):
    # given an owner on the Members screen
    page.set_viewport_size(size)
    mail.outbox.clear()
    login(page, live_server, owner)
    page.locator(".cc-nav").get_by_role("link", name="Members").click()
    expect(page.locator("h1")).to_have_text("Members")

    # when they invite a colleague as admin, first with a wrong address
    page.get_by_role("link", name="Invite a member").click()
    expect(page.locator("#content")).not_to_contain_text("Password")
    page.fill("#id_email", "not an address")
    page.select_option("#id_role", "admin")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator(".field-email .errorlist")).to_be_visible()
    page.fill("#id_email", "Grace@Acme.example")
    shot(page, f"50-member-invite-{size['width']}")
    page.get_by_role("button", name="Send the invitation").click()

    # then the member is listed as invited, and an e-mail carries a link to choose a password
    expect(page.locator(".messagelist")).to_contain_text("Invited grace@acme.example to Acme Messaging as Admin")
    row = page.locator("#result_list tbody tr", has_text="grace@acme.example")
    expect(row).to_contain_text("Invited")
    shot(page, f"51-members-{size['width']}")
    assert mail.outbox[0].to == ["grace@acme.example"] and "Acme Messaging" in mail.outbox[0].subject
    welcome = _welcome_path()

    # when the colleague opens the link in their own browser and chooses a password
    context = browser.new_context(viewport=size, locale="en-US", timezone_id="UTC")
    colleague = context.new_page()
    colleague.goto(f"{live_server.url}{welcome}")
    expect(colleague.locator("#content")).to_contain_text("Acme Messaging")
    colleague.fill("#id_new_password1", NEW_PASSWORD)
    colleague.fill("#id_new_password2", NEW_PASSWORD)
    shot(colleague, f"52-member-welcome-{size['width']}")
    colleague.get_by_role("button", name="Set my password and sign in").click()

    # then they are signed in as an admin of the account, and the link works no more
    expect(colleague.locator("h1")).to_contain_text("Dashboard")
    expect(colleague.locator(".cc-user-tools")).to_contain_text("Admin")
    colleague.goto(f"{live_server.url}{welcome}")
    expect(colleague.get_by_test_id("welcome-expired")).to_be_visible()
    context.close()
    page.reload()
    expect(page.locator("#result_list tbody tr", has_text="grace@acme.example")).to_contain_text("Active")
    grace = Membership.objects.get(user__email="grace@acme.example")
    assert grace.role == Membership.Role.ADMIN and grace.account == owner_account


def test_roles_change_and_members_leave_from_the_list_but_the_last_owner_stays(page, live_server, owner, owner_account):
    # given an owner and a viewer
    viewer = MembershipFactory(account=owner_account, role=Membership.Role.VIEWER)
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/callbacks/membership/")

    # when the owner makes the viewer an admin
    row = page.locator("#result_list tbody tr", has_text=viewer.user.email)
    row.locator("select").select_option("admin")
    row.get_by_role("button", name="Change").click()
    expect(page.locator(".messagelist")).to_contain_text("is now Admin")
    viewer.refresh_from_db()
    assert viewer.role == Membership.Role.ADMIN

    # and tries to make themself a viewer: refused, an account keeps an owner
    own = page.locator("#result_list tbody tr", has_text=owner.email)
    own.locator("select").select_option("viewer")
    own.get_by_role("button", name="Change").click()
    expect(page.locator(".messagelist")).to_contain_text("at least one owner")
    assert owner.memberships.get().role == Membership.Role.OWNER

    # and removes the admin
    page.locator("#result_list tbody tr", has_text=viewer.user.email).get_by_role("button", name="Remove").click()
    expect(page.locator(".messagelist")).to_contain_text("no longer a member")
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_a_viewer_cannot_invite_and_no_customer_meets_a_user_form(page, live_server, owner_account):
    # given a viewer of the account
    viewer = MembershipFactory(account=owner_account, role=Membership.Role.VIEWER).user
    login(page, live_server, viewer)

    # when they open Members, then there is nothing to invite or change
    page.goto(f"{live_server.url}/admin/callbacks/membership/")
    expect(page.get_by_role("link", name="Invite a member")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove")).to_have_count(0)
    page.goto(f"{live_server.url}/admin/callbacks/membership/add/")
    expect(page.locator("h1")).to_have_text("Members")

    # and Django's user forms stay closed to customers
    for path in ("auth/user/", f"auth/user/{viewer.pk}/change/", f"auth/user/{viewer.pk}/password/"):
        response = page.goto(f"{live_server.url}/admin/{path}")
        assert response.status in (403, 404), path
        expect(page.locator("body")).not_to_contain_text("pbkdf2")


@pytest.mark.parametrize("size", SIZES)
def test_an_operator_gives_a_customer_its_owner_by_invitation(page, live_server, size):
    # given an operator and a customer account without anyone in it
    page.set_viewport_size(size)
    mail.outbox.clear()
    customer = AccountFactory(name="Initech")
    operator = get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    login(page, live_server, operator)

    # when they invite the customer's owner from the accounts list
    page.goto(f"{live_server.url}/admin/callbacks/account/")
    page.locator("#result_list tbody tr", has_text="Initech").get_by_role("link", name="Invite an owner").click()
    expect(page.locator("#id_account")).to_have_value(str(customer.pk))
    expect(page.locator("#id_role")).to_have_value("owner")
    page.fill("#id_email", "boss@initech.example")
    shot(page, f"53-operator-invites-owner-{size['width']}")
    page.get_by_role("button", name="Send the invitation").click()

    # then the customer's owner exists, is told by e-mail, and can sign in after choosing a password
    expect(page.locator(".messagelist")).to_contain_text("Invited boss@initech.example to Initech as Owner")
    membership = Membership.objects.get(user__email="boss@initech.example")
    assert membership.account == customer and membership.role == Membership.Role.OWNER
    assert membership.user.is_staff and not membership.user.is_superuser
    assert "/admin/welcome/" in mail.outbox[0].body
