"""The delivery log, Retry, Replay, Refresh of an abnormal profile, and the dashboard's charts."""

from __future__ import annotations

import pytest
import requests

from callbacks import event_types
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import CallbackProfile, Delivery
from callbacks.services.api_keys import api_key_create
from callbacks.services.profiles import profile_create, profile_status_set
from tests.e2e.conftest import expect, login, shot

pytestmark = pytest.mark.e2e


def _dispatch_all() -> None:
    """What the task cluster does after the wake-up: send whatever is due."""
    while dispatch_batch(worker_id="e2e"):
        pass


def test_an_event_sent_through_the_api_appears_in_the_delivery_log(page, live_server, owner, owner_account, receiver):
    # given a profile subscribed to message.status, and an API key
    profile = profile_create(
        account=owner_account,
        name="Orders",
        url=receiver.url("/hooks"),
        event_types=[event_types.MESSAGE_STATUS],
    )
    _, raw_key = api_key_create(account=owner_account, name="producer")

    # when the platform sends an event through the API and the cluster delivers it
    answer = requests.post(
        f"{live_server.url}/api/v1/events/",
        json={
            "type": event_types.MESSAGE_STATUS,
            "data": {"message_id": "msg_e2e_1", "phone": "+14155550199", "status": "delivered"},
        },
        headers={"Authorization": f"Bearer {raw_key}"},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    _dispatch_all()
    assert receiver.wait_for(1)[0].json()["data"]["message_id"] == "msg_e2e_1"

    # then the customer finds it in the delivery log, by phone number and by message id
    login(page, live_server, owner)
    page.locator(".cc-nav").get_by_role("link", name="Delivery log").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("message.status")
    expect(rows.first).to_contain_text("Delivered")
    expect(rows.first).to_contain_text("HTTP 200")
    shot(page, "20-delivery-log")
    page.fill("#searchbar", "+14155550199")
    page.press("#searchbar", "Enter")
    expect(rows).to_have_count(1)
    page.fill("#searchbar", "msg_nothing")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list")).to_have_count(0)
    page.fill("#searchbar", "msg_e2e_1")
    page.press("#searchbar", "Enter")
    expect(rows).to_have_count(1)
    page.goto(f"{live_server.url}/admin/callbacks/delivery/?state__exact=failed")
    expect(page.locator("#result_list")).to_have_count(0)
    page.goto(
        f"{live_server.url}/admin/callbacks/delivery/?event_type={event_types.MESSAGE_STATUS}&within=1h&profile={profile.pk}"
    )
    expect(rows).to_have_count(1)

    # a delivery shows its attempts, request and response
    rows.first.locator("a").first.click()
    expect(page.get_by_test_id("delivery-state")).to_have_text("Delivered")
    attempt = page.locator(".cc-attempt").first
    expect(attempt).to_contain_text("POST")
    expect(attempt).to_contain_text("webhook-signature")
    expect(attempt).to_contain_text("msg_e2e_1")
    expect(attempt).to_contain_text("HTTP 200")
    shot(page, "21-delivery-detail")

    # Send again (a delivered one is not retried) sends it again with the same webhook-id
    expect(page.get_by_role("button", name="↻ Retry now")).to_have_count(0)
    page.get_by_role("button", name="↻ Send again").click()
    expect(page.locator(".messagelist")).to_contain_text("queued to be sent again")
    expect(page.get_by_test_id("delivery-state")).to_have_text("Pending")
    _dispatch_all()
    first, second = receiver.wait_for(2)
    assert first.header("webhook-id") == second.header("webhook-id")
    page.reload()
    expect(page.get_by_test_id("delivery-state")).to_have_text("Delivered")
    expect(page.locator(".cc-attempt")).to_have_count(2)


def test_replay_a_range_shows_the_count_before_sending(page, live_server, owner, owner_account, receiver):
    # given three failed deliveries of one profile
    receiver.respond_with(status=400)
    profile = profile_create(
        account=owner_account,
        name="Orders",
        url=receiver.url(),
        event_types=[event_types.OTP_SENT],
        retry_schedule_s=[0],
    )
    from callbacks.services.events import event_emit

    for number in range(3):
        event_emit(
            account=owner_account, type=event_types.OTP_SENT, data={"message_id": f"otp_{number}", "phone": "+1415"}
        )
    _dispatch_all()
    assert Delivery.objects.filter(state="failed").count() == 3

    # when the customer asks to replay the failed ones of the last day
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/callbacks/delivery/")
    page.get_by_role("link", name="Replay a range").click()
    page.select_option("#id_profile", str(profile.pk))
    page.fill("#id_created_after", "2000-01-01T00:00")
    page.fill("#id_created_before", "2100-01-01T00:00")
    page.get_by_role("button", name="Count the deliveries").click()

    # then the count shows first, and only confirming sends them again
    expect(page.get_by_test_id("replay-count")).to_contain_text("3 deliveries match")
    shot(page, "22-replay-count")
    assert Delivery.objects.filter(state="failed").count() == 3
    receiver.respond_with(status=200)
    page.get_by_role("button", name="Replay 3 deliveries").click()
    expect(page.locator(".messagelist")).to_contain_text("3 deliveries queued again")
    _dispatch_all()
    assert Delivery.objects.filter(state="delivered").count() == 3


def test_refresh_brings_an_abnormal_profile_back_without_leaving_the_page(
    page, live_server, owner, owner_account, receiver
):
    # given a profile that was disabled as abnormal, whose endpoint answers again
    profile = profile_create(account=owner_account, name="SMS receipts", url=receiver.url())
    profile_status_set(profile=profile, status=CallbackProfile.Status.ABNORMAL, reason="Failing for 5 days")
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/")
    cell = page.locator(f"[data-status-for='{profile.pk}']")
    expect(cell).to_contain_text("Abnormal")

    # when Refresh is pressed
    page.evaluate("window.__stayed = true")
    page.get_by_role("button", name="↻ Refresh").click()

    # then the connectivity test reaches the receiver and the row shows Enabled, on the same page
    expect(page.locator(f"[data-status-for='{profile.pk}'] .cc-check")).to_contain_text("Refresh: reachable")
    expect(page.locator(f"[data-status-for='{profile.pk}']")).to_contain_text("Enabled")
    assert page.evaluate("window.__stayed") is True
    assert receiver.wait_for(1)[0].json()["type"] == event_types.CALLBACK_TEST
    profile.refresh_from_db()
    assert profile.status == CallbackProfile.Status.ENABLED
    shot(page, "23-refreshed")

    # a failing endpoint says so beside the pill, which turns Failing
    receiver.respond_with(status=500)
    page.get_by_role("button", name="↻ Refresh").click()
    expect(page.locator(f"[data-status-for='{profile.pk}'] .cc-check")).to_contain_text(
        "Refresh: failed, HTTP 500 Internal Server Error"
    )
    expect(page.locator(f"[data-status-for='{profile.pk}'] .cc-status")).to_have_text("Failing")


def test_dashboard_charts_delivered_and_failed_and_profiles_needing_attention(
    page, live_server, owner, owner_account, receiver_factory
):
    # given one endpoint that answers and one that fails
    good, bad = receiver_factory(), receiver_factory()
    bad.respond_with(status=503)
    profile_create(account=owner_account, name="Orders", url=good.url(), event_types=[event_types.MESSAGE_STATUS])
    profile_create(
        account=owner_account,
        name="Legacy CRM",
        url=bad.url(),
        event_types=[event_types.MESSAGE_STATUS],
        retry_schedule_s=[0],
    )
    from callbacks.services.events import event_emit

    for number in range(4):
        event_emit(account=owner_account, type=event_types.MESSAGE_STATUS, data={"message_id": f"m{number}"})
    _dispatch_all()

    # when the customer opens the dashboard
    login(page, live_server, owner)

    # then the charts count 4 delivered and 4 failed, and the failing profile needs attention
    day = page.get_by_test_id("chart-24h")
    expect(day.locator(".cc-kpi.ok b")).to_have_text("4")
    expect(day.locator(".cc-kpi.ko b")).to_have_text("4")
    expect(page.get_by_test_id("chart-30d").locator(".cc-kpi.ok b")).to_have_text("4")
    expect(day.locator("rect.bar-ok")).to_have_count(1)
    expect(page.get_by_test_id("attention")).to_contain_text("Legacy CRM")
    expect(page.get_by_test_id("attention")).not_to_contain_text("Orders")
    shot(page, "24-dashboard")

    # and the list's statistics show the per-type counts on hover
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/")
    row = page.locator("#result_list tbody tr", has_text="Legacy CRM")
    expect(row.locator(".cc-stats-summary")).to_contain_text("4 failed")
    row.locator(".cc-stats").hover()
    expect(row.locator(".cc-stats-detail")).to_be_visible()
    expect(row.locator(".cc-stats-detail")).to_contain_text("message.status")
    shot(page, "25-statistics-hover", full_page=False)
