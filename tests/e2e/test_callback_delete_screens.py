"""Delete as customers mean it, in Chromium: our own question in the list, on the change page and in
bulk, on a desktop and a phone; refused for viewers; the history kept as a deleted callback."""

from __future__ import annotations

import re

import pytest

from callbacks.delivery.engine import dispatch_batch
from callbacks.models import CallbackProfile, Delivery, DeliveryStats, Membership
from tests.e2e.conftest import PHONE, expect, login, shot
from tests.e2e.test_callback_health_screens import LIST, _emit, _profile
from tests.factories import AccountFactory, MembershipFactory

pytestmark = pytest.mark.e2e


def test_an_admin_deletes_a_used_callback_and_its_history_stays(page, live_server, receiver):
    # given an admin of an account whose callback has delivered one event and has one waiting
    membership = MembershipFactory(account=AccountFactory(name="Acme Messaging"), role=Membership.Role.ADMIN)
    account = membership.account
    orders = _profile(account, receiver.url("/orders"), "Orders", retry_schedule_s=[3600])
    _emit(account)
    dispatch_batch(worker_id="e2e")
    receiver.respond_with(status=503)
    _emit(account)
    dispatch_batch(worker_id="e2e")
    receiver.wait_for(2)
    billing = _profile(account, "http://127.0.0.1:9/billing", "Billing")
    login(page, live_server, membership.user)

    # when they press Delete in the list
    page.goto(f"{live_server.url}{LIST}")
    page.locator("#result_list > tbody > tr").filter(has_text="Orders").get_by_role("link", name="Delete").click()
    # then our own question names what stops
    dialog = page.locator("dialog.cc-dialog")
    expect(dialog).to_contain_text(f"Delete Orders? Nothing more will be sent to {orders.url}.")
    shot(page, "health-05-delete-question")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert CallbackProfile.objects.filter(pk=orders.pk).exists()
    page.locator("#result_list > tbody > tr").filter(has_text="Orders").get_by_role("link", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()

    # then it is gone from the list, its waiting delivery cancelled and its history kept
    expect(page.locator(".messagelist")).to_contain_text("“Orders” is deleted")
    expect(page.locator("#result_list > tbody > tr")).to_have_count(1)
    assert sorted(Delivery.objects.filter(profile_id=orders.pk).values_list("state", flat=True)) == [
        "cancelled",
        "delivered",
    ]
    assert DeliveryStats.objects.filter(profile_id=orders.pk).exists()
    # and the delivery log shows it as a deleted callback, and its page is not found
    page.goto(f"{live_server.url}/admin/callbacks/delivery/")
    expect(page.locator("#result_list")).to_contain_text("Orders (deleted callback)")
    shot(page, "health-06-delivery-log-deleted")
    assert page.goto(f"{live_server.url}{LIST}{orders.pk}/change/").status == 404

    # when the other is deleted from its own page, the same question is asked on a page of ours
    page.goto(f"{live_server.url}{LIST}{billing.pk}/change/")
    page.locator("a.deletelink").click()
    expect(page.get_by_test_id("delete-confirmation")).to_contain_text(
        "Delete Billing? Nothing more will be sent to http://127.0.0.1:9/billing."
    )
    expect(page.locator("#content")).not_to_contain_text("Are you sure")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".messagelist")).to_contain_text("“Billing” is deleted")
    assert not CallbackProfile.objects.exists()
    assert CallbackProfile.all_objects.count() == 2


def test_bulk_delete_asks_the_same_way(page, live_server, owner, owner_account):
    for name in ("Orders", "Billing", "Keep me"):
        _profile(owner_account, f"http://127.0.0.1:9/{name.lower().replace(' ', '-')}", name)
    login(page, live_server, owner)
    page.goto(f"{live_server.url}{LIST}")
    for name in ("Orders", "Billing"):
        page.locator("#result_list > tbody > tr").filter(has_text=name).locator("input.action-select").check()
    page.get_by_role("button", name="Delete selected").click()
    confirmation = page.get_by_test_id("delete-confirmation")
    expect(confirmation).to_contain_text("Delete 2 callbacks? Nothing more will be sent to their addresses.")
    expect(confirmation).to_contain_text("http://127.0.0.1:9/orders")
    shot(page, "health-07-bulk-delete-question")
    confirmation.get_by_role("button", name="Delete").click()
    expect(page.locator(".messagelist")).to_contain_text("2 callbacks are deleted")
    assert list(CallbackProfile.objects.values_list("name", flat=True)) == ["Keep me"]


@pytest.mark.django_db
def test_screen_refresh_and_delete_refuse_a_viewer(client, receiver):
    # given a viewer and an abnormal callback holding a delivery
    membership = MembershipFactory(role=Membership.Role.VIEWER)
    profile = _profile(membership.account, receiver.url("/orders"), "Orders")
    _emit(membership.account)
    CallbackProfile.objects.filter(pk=profile.pk).update(status="abnormal")
    Delivery.objects.filter(profile=profile).update(state=Delivery.State.HELD)
    client.force_login(membership.user)
    # when they post Refresh and Delete by hand
    refresh = client.post(f"{LIST}{profile.pk}/refresh/", HTTP_ACCEPT="application/json")
    delete_page = client.get(f"{LIST}{profile.pk}/delete/")
    delete = client.post(f"{LIST}{profile.pk}/delete/")
    # then both are refused, nothing is sent and nothing changes
    assert refresh.status_code == 403 and "owners and admins" in refresh.json()["error"]
    assert (delete_page.status_code, delete.status_code) == (403, 403)
    assert receiver.requests == []
    profile.refresh_from_db()
    assert profile.status == "abnormal" and profile.deleted_at is None
    assert Delivery.objects.get(profile=profile).state == Delivery.State.HELD
    assert re.search("Orders", client.get(LIST).content.decode())
    # and the list's status cells are readable by a viewer, for its own account's callbacks only
    other = _profile(AccountFactory(), "http://127.0.0.1:9/other", "Other")
    cells = client.get(f"{LIST}health/", {"id": [str(profile.pk), str(other.pk)]}).json()["cells"]
    assert list(cells) == [str(profile.pk)] and "Abnormal" in cells[str(profile.pk)]
    assert client.get(f"{LIST}health/", {"id": "not-an-id"}).status_code == 400
    assert client.get(f"{LIST}{other.pk}/delete/").status_code == 404


def test_delete_from_a_card_on_a_phone(page, live_server, owner, owner_account):
    # given a callback, on a phone
    orders = _profile(owner_account, "https://hooks.example.com/a/rather/long/path/for/orders/callbacks", "Orders")
    page.set_viewport_size(PHONE)
    login(page, live_server, owner)
    page.goto(f"{live_server.url}{LIST}")
    # when Delete is pressed on its card
    page.locator("#result_list > tbody > tr").first.get_by_role("link", name="Delete").click()
    # then the question fits the screen, and answering it deletes the callback
    dialog = page.locator("dialog.cc-dialog")
    expect(dialog).to_contain_text(f"Delete Orders? Nothing more will be sent to {orders.url}.")
    box = dialog.bounding_box()
    assert box["x"] >= 8 and box["x"] + box["width"] <= PHONE["width"] - 8, box
    shot(page, "health-12-phone-delete-question", full_page=False)
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator(".messagelist")).to_contain_text("“Orders” is deleted")
    assert CallbackProfile.all_objects.get(pk=orders.pk).deleted_at is not None
