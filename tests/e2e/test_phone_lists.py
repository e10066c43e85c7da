"""The delivery log and API keys on a phone (cards, status and actions in sight) and a desktop (nothing cut off)."""

from __future__ import annotations

import pytest

from callbacks import event_types
from callbacks.models import Delivery
from callbacks.services.api_keys import api_key_create
from callbacks.services.events import event_emit
from callbacks.services.profiles import profile_create
from tests.e2e.conftest import DESKTOP, PHONE, expect, login, shot

pytestmark = pytest.mark.e2e

SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]
PAGE_WIDER_THAN_SCREEN = "() => document.documentElement.scrollWidth > window.innerWidth"
TABLE_CUT_OFF = """() => {
    const table = document.querySelector("#result_list");
    return table.getBoundingClientRect().right > table.closest(".results").getBoundingClientRect().right + 1;
}"""


def _in_view(page, locator) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (box, width)


def _failed_delivery(account) -> Delivery:
    profile = profile_create(
        account=account, name="Orders", url="http://127.0.0.1:9/orders", event_types=[event_types.OTP_SENT]
    )
    event = event_emit(account=account, type=event_types.OTP_SENT, data={"message_id": "otp-1", "phone": "+1"})
    delivery = event.deliveries.get(profile=profile)
    # as the engine leaves a delivery whose retries are used up
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.FAILED, attempt_count=8, last_status_code=503)
    return delivery


@pytest.mark.parametrize("size", SIZES)
def test_the_delivery_log_shows_status_and_retry_in_sight(page, live_server, owner, owner_account, size):
    # given a failed delivery
    page.set_viewport_size(size)
    delivery = _failed_delivery(owner_account)
    login(page, live_server, owner)

    # when the customer opens the delivery log
    page.locator(".cc-nav").get_by_role("link", name="Delivery log").click()

    # then its status, event and Retry now are in sight, with nothing cut off or scrolled sideways
    row = page.locator("#result_list tbody tr").first
    _in_view(page, row.locator(".cc-status", has_text="Failed"))
    _in_view(page, row.get_by_role("button", name="Retry now"))
    _in_view(page, row.get_by_role("link", name="Details"))
    expect(row).to_contain_text("OTP sent")
    assert not page.evaluate(PAGE_WIDER_THAN_SCREEN)
    assert not page.evaluate(TABLE_CUT_OFF)
    shot(page, f"60-delivery-log-{size['width']}")

    # and Retry now from the list queues it again
    row.get_by_role("button", name="Retry now").click()
    expect(page.locator(".messagelist")).to_contain_text("queued to be sent again")
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING

    # and Details opens the delivery, its event by name with the code beside it
    page.locator("#result_list tbody tr").first.get_by_role("link", name="Details").click()
    expect(page.locator(".cc-facts")).to_contain_text("OTP sent otp.sent")
    assert not page.evaluate(PAGE_WIDER_THAN_SCREEN)
    shot(page, f"62-delivery-{size['width']}")


@pytest.mark.parametrize("size", SIZES)
def test_api_keys_show_status_and_revoke_in_sight(page, live_server, owner, owner_account, size):
    # given two keys
    page.set_viewport_size(size)
    api_key_create(account=owner_account, name="Billing system with a long name")
    api_key_create(account=owner_account, name="Shop")
    login(page, live_server, owner)

    # when the customer opens API keys
    page.locator(".cc-nav").get_by_role("link", name="API keys").click()

    # then each key's status and Revoke are in sight
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    for index in range(2):
        _in_view(page, rows.nth(index).locator(".cc-status", has_text="Active"))
        _in_view(page, rows.nth(index).get_by_role("button", name="Revoke"))
    assert not page.evaluate(PAGE_WIDER_THAN_SCREEN)
    assert not page.evaluate(TABLE_CUT_OFF)
    shot(page, f"61-api-keys-{size['width']}")


@pytest.mark.parametrize("screen", ["account", "user"])
def test_the_operators_lists_are_cards_on_a_phone(page, live_server, owner_account, screen):
    # given an operator on a phone
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_superuser("operator", "op@example.com", "correct horse battery staple")
    page.set_viewport_size(PHONE)
    login(page, live_server, operator)

    # when the accounts or users list opens
    app = "auth" if screen == "user" else "callbacks"
    page.goto(f"{live_server.url}/admin/{app}/{screen}/")

    # then every column of every row is in sight, nothing scrolled sideways
    cells = page.locator("#result_list tbody td, #result_list tbody th")
    expect(cells.first).to_be_visible()
    for index in range(cells.count()):
        if cells.nth(index).inner_text().strip():
            _in_view(page, cells.nth(index))
    assert not page.evaluate(PAGE_WIDER_THAN_SCREEN)
    shot(page, f"phone-operator-{screen}s")
