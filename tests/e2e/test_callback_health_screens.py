"""Callback health, Refresh, the dashboard and the callback list at 1280 px and on a 390 px phone, in Chromium."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from callbacks import event_types
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import CallbackProfile, Delivery, DeliveryStats, Membership
from callbacks.services.events import event_emit
from callbacks.services.profiles import profile_create
from tests.e2e.conftest import DESKTOP, PHONE, expect, login, shot
from tests.factories import AccountFactory, MembershipFactory

pytestmark = pytest.mark.e2e
LIST = "/admin/callbacks/callbackprofile/"

# Every part of a callback's row (card on a phone) that must be in sight, with its box.
ROW_PARTS = """(row) => ["td.field-callback .cc-title", ".cc-status", "td.field-statistics", ".cc-row-actions",
    ".cc-row-actions .danger"].map((selector) => {
        const part = row.querySelector(selector);
        if (!part) return [selector, null];
        const box = part.getBoundingClientRect();
        return [selector, {left: box.left, right: box.right, top: box.top, bottom: box.bottom}];
    })"""


def _profile(account, receiver_url: str, name: str, code: str = event_types.OTP_SENT, **fields) -> CallbackProfile:
    return profile_create(account=account, name=name, url=receiver_url, event_types=[code], **fields)


def _emit(account, code: str = event_types.OTP_SENT) -> None:
    event_emit(account=account, type=code, data={"message_id": "m1", "phone": "+14155550123"})


def test_a_failing_callback_shows_failing_and_refresh_brings_it_back(page, live_server, owner, owner_account, receiver):
    # given a callback whose receiver answers 503, and one paused by the system holding its work
    receiver.respond_with(status=503)
    orders = _profile(owner_account, receiver.url("/orders"), "Orders", retry_schedule_s=[60, 60])
    sms = _profile(owner_account, receiver.url("/sms"), "SMS receipts", code=event_types.MESSAGE_STATUS)
    _emit(owner_account, event_types.MESSAGE_STATUS)
    CallbackProfile.objects.filter(pk=sms.pk).update(status="abnormal", status_reason="failing since 09:00 UTC")
    Delivery.objects.filter(profile=sms).update(state=Delivery.State.HELD)
    login(page, live_server, owner)
    page.goto(f"{live_server.url}{LIST}")
    pill = page.locator(f"[data-status-for='{orders.pk}']")
    expect(pill.locator(".cc-status")).to_have_text("Enabled")
    page.evaluate("window.stayed = true")

    # when an event goes out and the receiver fails it
    first_failure = timezone.now()
    _emit(owner_account)
    dispatch_batch(worker_id="e2e")
    receiver.wait_for(1)

    # then, within a minute of the failure, the open list shows it Failing with the error in words
    expect(pill.locator(".cc-status")).to_have_text("Failing", timeout=40_000)
    expect(pill).to_contain_text("HTTP 503 Service Unavailable")
    assert timezone.now() - first_failure < timedelta(minutes=1)
    assert page.evaluate("window.stayed") is True
    page.reload()
    expect(page.locator("#result_list > tbody > tr").filter(has_text="Orders")).to_contain_text("1 retrying")
    expect(page.locator(f"[data-status-for='{sms.pk}'] .cc-status")).to_have_text("Abnormal")
    shot(page, "health-01-list-failing")
    # and the status filter offers the same four states
    page.goto(f"{live_server.url}{LIST}?health=failing")
    expect(page.locator("#result_list > tbody > tr")).to_have_count(1)
    expect(page.locator("#changelist-filter")).to_contain_text("Failing")

    # and the dashboard says the same, in the same words
    page.goto(f"{live_server.url}/admin/")
    attention = page.get_by_test_id("attention")
    expect(attention.locator(".cc-kpi.failing b")).to_have_text("1")
    expect(attention.locator(".cc-kpi.abnormal b")).to_have_text("1")
    expect(attention).to_contain_text("HTTP 503 Service Unavailable")
    expect(attention).not_to_contain_text("Every callback is answering")
    expect(page.get_by_test_id("chart-24h").locator(".cc-kpi.retrying b")).to_have_text("1")
    shot(page, "health-02-dashboard-failing")

    # when the receiver is fixed and Refresh is pressed on each, without leaving the page
    receiver.respond_with(status=200)
    page.goto(f"{live_server.url}{LIST}")
    page.evaluate("window.stayed = true")
    for profile in (orders, sms):
        row = page.locator("#result_list > tbody > tr").filter(has=page.locator(f"[data-status-for='{profile.pk}']"))
        row.get_by_role("button", name="↻ Refresh").click()
        cell = page.locator(f"[data-status-for='{profile.pk}']")
        # then the pill turns Enabled in place and what the test found stays beside it
        expect(cell.locator(".cc-status")).to_have_text("Enabled")
        expect(cell.locator(".cc-check")).to_contain_text("Refresh: reachable, HTTP 200 in")
    assert page.evaluate("window.stayed") is True
    shot(page, "health-03-list-after-refresh")
    # and the paused one resumed: its held delivery is due again
    assert Delivery.objects.get(profile=sms).state == Delivery.State.PENDING
    # and the result is still there after a reload
    page.reload()
    expect(page.locator(f"[data-status-for='{orders.pk}'] .cc-check")).to_contain_text("reachable")


def test_a_failed_refresh_says_why_beside_the_pill(page, live_server, owner, owner_account, receiver):
    receiver.respond_with(status=401)
    orders = _profile(owner_account, receiver.url("/orders"), "Orders")
    login(page, live_server, owner)
    page.goto(f"{live_server.url}{LIST}")
    page.get_by_role("button", name="↻ Refresh").click()
    cell = page.locator(f"[data-status-for='{orders.pk}']")
    expect(cell.locator(".cc-status")).to_have_text("Failing")
    expect(cell.locator(".cc-check.ko")).to_contain_text("Refresh: failed, HTTP 401 Unauthorized")


def test_the_empty_dashboard_does_not_claim_callbacks_answer(page, live_server, owner):
    login(page, live_server, owner)
    attention = page.get_by_test_id("attention")
    expect(attention).to_contain_text("No callbacks yet")
    expect(attention).not_to_contain_text("answering")
    expect(attention.get_by_role("link", name="+ Add a callback")).to_be_visible()
    shot(page, "health-04-dashboard-empty")


def test_a_viewer_sees_refresh_disabled_and_no_delete(page, live_server, receiver):
    membership = MembershipFactory(account=AccountFactory(name="Acme Messaging"), role=Membership.Role.VIEWER)
    _profile(membership.account, receiver.url("/orders"), "Orders")
    login(page, live_server, membership.user)
    page.goto(f"{live_server.url}{LIST}")
    expect(page.get_by_role("button", name="↻ Refresh")).to_be_disabled()
    expect(page.locator("#result_list").get_by_role("link", name="Delete")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete selected")).to_have_count(0)
    shot(page, "health-08-viewer-list")
    # and the callback's own page shows the viewer its health and the way to its deliveries
    page.locator("#result_list").get_by_role("link", name="Orders").click()
    health = page.get_by_test_id("callback-health")
    expect(health.locator(".cc-status")).to_have_text("Enabled")
    health.get_by_role("link", name="Its deliveries").click()
    expect(page.locator("#changelist")).to_be_visible()


def _stats_for(profile: CallbackProfile) -> None:
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    for code, delivered, failed in ((event_types.OTP_SENT, 12840, 37), (event_types.MESSAGE_STATUS, 904, 3)):
        DeliveryStats.objects.create(
            account=profile.account,
            profile=profile,
            event_type=code,
            hour=hour,
            delivered=delivered,
            failed=failed,
            attempts=delivered + failed,
        )


def test_the_list_fits_a_desktop_and_becomes_cards_on_a_phone(page, live_server, owner, owner_account):
    # given callbacks with statistics, long names and addresses, one failing
    for index, name in enumerate(("Orders and shipping notifications for the web shop", "Billing", "SMS receipts")):
        profile = _profile(
            owner_account,
            f"https://hooks.example-customer-domain.com/callbacks/{index}/very/long/path/for/receipts",
            name,
            description="Delivery receipts for every message we send",
        )
        _stats_for(profile)
    CallbackProfile.objects.filter(name="Billing").update(consecutive_failures=4, last_error="HTTP 502 Bad Gateway")
    login(page, live_server, owner)

    # at 1280 px nothing is cut off: the table fits its box and every Delete is in sight
    page.goto(f"{live_server.url}{LIST}")
    expect(page.locator("#result_list > tbody > tr")).to_have_count(3)
    box = page.evaluate(
        """() => { const r = document.querySelector("#changelist .results");
            return {scroll: r.scrollWidth, client: r.clientWidth, right: r.getBoundingClientRect().right}; }"""
    )
    assert box["scroll"] <= box["client"] + 1, f"the list is {box['scroll']}px in a {box['client']}px box"
    for row in page.locator("#result_list > tbody > tr").all():
        for selector, part in row.evaluate(ROW_PARTS):
            assert part is not None, selector
            assert part["right"] <= min(box["right"], DESKTOP["width"]) + 1, f"{selector} is cut off at 1280 px"
    shot(page, "health-09-list-1280")
    # statistics per event type on hover
    page.locator(".cc-stats").first.hover()
    expect(page.locator(".cc-stats-detail").first).to_be_visible()
    expect(page.locator(".cc-stats-detail").first).to_contain_text(event_types.OTP_SENT)

    # on a phone each callback is a card with name, status, statistics and actions in the viewport
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}{LIST}")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    assert page.evaluate("getComputedStyle(document.querySelector('#result_list thead')).display") == "none"
    for row in page.locator("#result_list > tbody > tr").all():
        row.scroll_into_view_if_needed()
        card = row.bounding_box()
        assert card["height"] <= PHONE["height"], f"a card is {card['height']}px high"
        for selector, part in row.evaluate(ROW_PARTS):
            assert part is not None, selector
            assert part["left"] >= 0 and part["right"] <= PHONE["width"], f"{selector} is off screen: {part}"
    page.locator("#result_list > tbody > tr").first.scroll_into_view_if_needed()
    shot(page, "health-10-list-phone", full_page=False)
    shot(page, "health-11-list-phone-full")
    page.locator(".cc-stats").first.focus()
    detail = page.locator(".cc-stats-detail").first
    expect(detail).to_be_visible()
    assert detail.bounding_box()["x"] + detail.bounding_box()["width"] <= PHONE["width"] + 1


@pytest.mark.parametrize("size", [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")])
def test_a_callbacks_page_shows_its_health_and_leads_to_its_deliveries(
    page, live_server, owner, owner_account, receiver, size
):
    # given a callback paused by the system with its work held, and a healthy one beside it
    page.set_viewport_size(size)
    sms = _profile(owner_account, receiver.url("/sms"), "SMS receipts", code=event_types.MESSAGE_STATUS)
    orders = _profile(owner_account, receiver.url("/orders"), "Orders")
    _emit(owner_account, event_types.MESSAGE_STATUS)
    _emit(owner_account, event_types.MESSAGE_STATUS)
    _emit(owner_account)
    CallbackProfile.objects.filter(pk=sms.pk).update(status="abnormal", status_reason="failing since 09:00 UTC")
    Delivery.objects.filter(profile=sms).update(state=Delivery.State.HELD)
    login(page, live_server, owner)

    # when its page is opened
    page.goto(f"{live_server.url}{LIST}{sms.pk}/change/")

    # then its health is in sight, in the list's words, with why
    health = page.get_by_test_id("callback-health")
    expect(health.locator(".cc-status")).to_have_text("Abnormal")
    expect(health).to_contain_text("failing since 09:00 UTC")
    box = health.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size["width"], box
    shot(page, f"health-05-callback-page-{size['width']}")
    # and its deliveries are one click away, the log filtered to it alone
    health.get_by_role("link", name="Its deliveries").click()
    expect(page.locator("#result_list > tbody > tr")).to_have_count(2)
    expect(page.locator("#result_list > tbody")).not_to_contain_text("Orders")
    # and the healthy one reads Enabled
    page.goto(f"{live_server.url}{LIST}{orders.pk}/change/")
    expect(page.get_by_test_id("callback-health").locator(".cc-status")).to_have_text("Enabled")
