"""Per-key ordering on the screens: chosen on the configure form, shown in the delivery log."""

from __future__ import annotations

import pytest

from callbacks.models import CallbackProfile
from callbacks.services.events import event_emit
from callbacks.services.profiles import profile_create
from tests.e2e.conftest import expect, login, shot

pytestmark = pytest.mark.e2e


def test_a_customer_orders_a_callback_per_key_and_sees_what_waits(page, live_server, owner, owner_account, receiver):
    # given a callback without ordering
    profile = profile_create(
        account=owner_account, name="Orders", url=receiver.url("/hooks"), event_types=["message.status"]
    )
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/{profile.pk}/change/")

    # when they open the delivery settings, the form says what ordering per key costs
    page.locator("fieldset.collapse summary").click()
    expect(page.locator("#id_ordering")).to_have_value("none")
    expect(page.get_by_text("It costs speed")).to_be_visible()

    # and a key path that is not one is refused with the reason, nothing saved
    page.select_option("#id_ordering", "per_key")
    page.fill("#id_ordering_key_path", "order id!")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errorlist")).to_contain_text("separated by dots")
    profile.refresh_from_db()
    assert profile.ordering == CallbackProfile.Ordering.NONE

    # then a good one is saved
    page.fill("#id_ordering_key_path", "order.id")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("changed successfully")
    profile.refresh_from_db()
    assert (profile.ordering, profile.ordering_key_path) == (CallbackProfile.Ordering.PER_KEY, "order.id")

    # and the second event of an order waits for the first in the delivery log
    for status in ("sent", "delivered"):
        event_emit(account=owner_account, type="message.status", data={"order": {"id": "A-17"}, "status": status})
    page.goto(f"{live_server.url}/admin/callbacks/delivery/")
    expect(page.get_by_test_id("waiting-for-key")).to_have_count(1)
    expect(page.get_by_test_id("waiting-for-key")).to_have_text("waiting for an earlier delivery of key A-17")
    shot(page, "ordering-delivery-log")
