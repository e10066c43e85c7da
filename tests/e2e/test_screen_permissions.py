"""What the screens let each role do, checked through Django's test client (no browser needed)."""

from __future__ import annotations

import pytest

from callbacks import event_types
from callbacks.models import CallbackProfile, Delivery, Membership
from callbacks.services.events import event_emit
from callbacks.services.profiles import profile_create
from tests.factories import AccountFactory, MembershipFactory


@pytest.fixture
def viewer_setup(db):
    membership = MembershipFactory(role=Membership.Role.VIEWER)
    profile = profile_create(
        account=membership.account,
        name="Orders",
        url="http://127.0.0.1:9/orders",
        event_types=[event_types.OTP_SENT],
    )
    event_emit(account=membership.account, type=event_types.OTP_SENT, data={"message_id": "otp_1"})
    return membership, profile


def test_a_viewer_looks_but_changes_nothing(client, viewer_setup):
    # given a viewer of an account with a profile and a delivery
    membership, profile = viewer_setup
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.FAILED)
    client.force_login(membership.user)
    secret = profile.signing_secret

    # when they post every action the screens offer
    client.post(f"/admin/callbacks/callbackprofile/{profile.pk}/status/", {"status": "disabled"})
    client.post(f"/admin/callbacks/callbackprofile/{profile.pk}/rotate/")
    client.post(f"/admin/callbacks/delivery/{delivery.pk}/retry/")
    edit = client.post(f"/admin/callbacks/callbackprofile/{profile.pk}/change/", {"name": "Renamed"})
    delete = client.post(f"/admin/callbacks/callbackprofile/{profile.pk}/delete/", {"post": "yes"})
    add = client.get("/admin/callbacks/callbackprofile/add/")

    # then nothing changed, and the forms that change are refused
    profile.refresh_from_db()
    assert (profile.status, profile.name, profile.signing_secret) == ("enabled", "Orders", secret)
    assert Delivery.objects.get().state == Delivery.State.FAILED
    assert (edit.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    assert client.get("/admin/callbacks/callbackprofile/").status_code == 200


def test_every_screen_of_another_account_answers_404(client, viewer_setup):
    # given the owner of another account
    membership, profile = viewer_setup
    delivery = Delivery.objects.get()
    stranger = MembershipFactory(account=AccountFactory(), role=Membership.Role.OWNER).user
    client.force_login(stranger)

    # when they ask for each of the first account's addresses, then each is a 404
    for method, path in (
        ("get", f"/admin/callbacks/callbackprofile/{profile.pk}/change/"),
        ("get", f"/admin/callbacks/callbackprofile/{profile.pk}/history/"),
        ("post", f"/admin/callbacks/callbackprofile/{profile.pk}/refresh/"),
        ("post", f"/admin/callbacks/callbackprofile/{profile.pk}/status/"),
        ("post", f"/admin/callbacks/callbackprofile/{profile.pk}/rotate/"),
        ("get", f"/admin/callbacks/delivery/{delivery.pk}/change/"),
        ("post", f"/admin/callbacks/delivery/{delivery.pk}/retry/"),
        ("get", f"/admin/callbacks/account/{membership.account.pk}/change/"),
    ):
        assert getattr(client, method)(path).status_code == 404, path
    # and switching to that account is refused the same way
    assert client.post("/admin/account/switch/", {"account": str(membership.account.pk)}).status_code == 404
    assert CallbackProfile.objects.get().status == "enabled"


def test_refusals_and_missing_pages_say_why_and_lead_back(client, viewer_setup):
    # given a viewer
    membership, _profile = viewer_setup
    client.force_login(membership.user)

    # when they open a form they may not use, and a page of no profile
    refused = client.get("/admin/callbacks/callbackprofile/add/")
    missing = client.get("/admin/callbacks/callbackprofile/00000000-0000-0000-0000-000000000000/change/")

    # then each page says what happened in words and links back to the dashboard
    assert refused.status_code == 403
    assert "a viewer of an account can look but not change" in refused.content.decode()
    assert missing.status_code == 404
    assert "switch to the right one" in missing.content.decode()
    for page in (refused, missing):
        assert '<a href="/admin/">Back to the dashboard</a>' in page.content.decode()
    # and the API still answers JSON
    assert client.get("/api/v1/nope/").json() == {"detail": "Not found."}


def test_a_link_to_another_of_ones_accounts_offers_the_switch(client, viewer_setup):
    # given a user in two accounts, working in the other one, and a delivery of the first
    membership, _profile = viewer_setup
    delivery = Delivery.objects.get()
    other = MembershipFactory(user=membership.user, account=AccountFactory(name="AAA first"), role="owner").account
    client.force_login(membership.user)
    client.post("/admin/account/switch/", {"account": str(other.pk)})

    # when they open the delivery's link (from a failure notice, say)
    page = client.get(f"/admin/callbacks/delivery/{delivery.pk}/change/")

    # then the page offers to switch to the delivery's account, without switching behind their back
    assert page.status_code == 200
    assert 'data-testid="switch-account"' in page.content.decode()
    assert client.session["callback_center_account_id"] == str(other.pk)
    # and once they switch, it opens
    client.post("/admin/account/switch/", {"account": str(membership.account.pk)})
    assert str(delivery.pk) in client.get(f"/admin/callbacks/delivery/{delivery.pk}/change/").content.decode()
    # while an address of no profile, or another kind of screen, still answers 404
    assert (
        client.get("/admin/callbacks/callbackprofile/00000000-0000-0000-0000-000000000000/change/").status_code == 404
    )
    assert client.get("/admin/callbacks/account/00000000-0000-0000-0000-000000000000/change/").status_code == 404


def test_making_a_user_a_member_lets_them_sign_in(client, db):
    # given an operator, an account and a user just created under Users (not staff: Django's default)
    from django.contrib.auth.models import User

    operator = User.objects.create_superuser("operator", "op@example.com", "pw-operator-1")
    account = AccountFactory(name="Initech")
    newcomer = User.objects.create_user("newcomer", "new@example.com", "pw-newcomer-1")
    client.force_login(operator)

    # when the operator invites them to the account by their e-mail
    added = client.post(
        "/admin/callbacks/membership/add/",
        {"email": "new@example.com", "account": account.pk, "role": "admin"},
        follow=True,
    )

    # then they are told, and the newcomer can sign in and sees the account's dashboard
    assert "Invited new@example.com to Initech as Admin" in added.content.decode()
    newcomer.refresh_from_db()
    assert newcomer.is_staff and newcomer.memberships.get().account == account
    client.logout()
    signed_in = client.post(
        "/admin/login/?next=/admin/", {"username": "newcomer", "password": "pw-newcomer-1"}, follow=True
    )
    assert signed_in.request["PATH_INFO"] == "/admin/"
    assert "Initech" in signed_in.content.decode()


def test_a_wrong_password_is_told_without_admin_jargon(client, viewer_setup):
    # given a member of an account
    membership, _profile = viewer_setup
    membership.user.set_password("pw-right-1")
    membership.user.save()

    # when they sign in with a wrong password
    page = client.post("/admin/login/?next=/admin/", {"username": membership.user.username, "password": "wrong"})

    # then they read what is wrong, not that they need a "staff account"
    assert "The user name or password is not right" in page.content.decode()
    assert "staff account" not in page.content.decode()
