"""The callbacks list and a callback's page, walked in Chromium as a customer would."""

from __future__ import annotations

import re

import pytest

from callbacks.models import CallbackProfile
from callbacks.services.profiles import profile_create
from tests.e2e.conftest import DESKTOP, PHONE, expect, login, shot

pytestmark = pytest.mark.e2e

FIELDS_OUTSIDE_THEIR_CARD = """() => [...document.querySelectorAll("input, select, textarea")].filter((field) => {
    const card = field.parentElement.closest("fieldset, .module, .cc-card");
    const box = field.getBoundingClientRect();
    return card && box.width && box.right > card.getBoundingClientRect().right + 1;
}).map((field) => field.id)"""
SELECTS_CUTTING_THEIR_TEXT = """() => [...document.querySelectorAll("select")].filter((select) => {
    const style = getComputedStyle(select);
    const inside = select.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    return select.offsetParent && inside < parseFloat(style.fontSize) * 1.15;
}).map((select) => select.id)"""


def test_configure_a_callback_with_headers_template_encryption_and_events(page, live_server, owner, receiver):
    # given a customer signed in on the dashboard
    login(page, live_server, owner)
    expect(page.locator("h1")).to_contain_text("Dashboard")
    expect(page.get_by_test_id("chart-24h")).to_be_visible()
    shot(page, "01-dashboard-empty")

    # when they open Callbacks and add a callback
    page.locator(".cc-nav").get_by_role("link", name="Callbacks", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Callbacks")
    page.get_by_role("link", name=re.compile("Add")).click()
    expect(page.locator("h1")).to_contain_text("New callback")
    page.fill("#id_name", "Orders")
    page.fill("#id_description", "Order status updates for the shop")
    page.fill("#id_url", receiver.url("/hooks/orders"))

    # headers as add / remove rows
    page.get_by_role("button", name="+ Add header").click()
    page.get_by_label("Header name").last.fill("X-Shop")
    page.get_by_label("Header value").last.fill("acme")
    page.get_by_role("button", name="+ Add header").click()
    page.get_by_label("Header name").last.fill("X-Remove-Me")
    page.get_by_role("button", name="Remove header").last.click()
    expect(page.get_by_label("Header name")).to_have_count(1)

    # subscribing to an event offers its example on the right and its fields as placeholders
    status_label = page.locator("label[data-code='message.status']")
    status_label.hover()
    expect(page.locator("#cc-example-type")).to_have_text("message.status")
    expect(page.locator("#cc-example-json")).to_contain_text('"phone": "+14155550123"')
    page.locator("label[data-code='otp.sent']").hover()
    expect(page.locator("#cc-example-json")).to_contain_text('"template": "login"')
    status_label.locator("input").check()
    page.locator("#cc-placeholders button", has_text="<data.phone>").click()
    expect(page.locator("#id_body_template")).to_have_value("<data.phone>")

    # a template with an unknown placeholder, and an encryption key of the wrong length
    page.fill("#id_body_template", '{"phone": <data.phone>, "who": <data.nobody>}')
    page.select_option("#id_encryption_cipher", "aes-256-gcm")
    page.fill("#id_encryption_key", "too-short")
    expect(page.locator("#cc-key-check")).to_have_text("9 of 32 characters for AES-256")
    page.uncheck("#id_encryption_iv_random")
    expect(page.locator("#cc-gcm-warning")).to_contain_text("reuses the nonce")
    page.check("#id_encryption_iv_random")
    expect(page.locator("#cc-gcm-warning")).to_have_count(0)
    page.fill("#id_encryption_fields", "phone")
    shot(page, "02-configure-callback-before-save")
    page.get_by_role("button", name="Save", exact=True).click()

    # then the errors show beside their fields and nothing is saved
    expect(page.locator(".field-body_template .errorlist")).to_contain_text("data.nobody")
    expect(page.locator(".field-encryption_key .errorlist")).to_be_visible()
    assert not CallbackProfile.objects.exists()
    shot(page, "03-configure-callback-errors")

    # when they fix both (secrets are never sent back, so the key is typed again)
    page.fill("#id_body_template", '{"phone": <data.phone>, "status": <data.status>, "id": <event.id>}')
    page.fill("#id_encryption_key", "k" * 32)
    expect(page.locator("#cc-key-check")).to_have_text("✓ 32 characters")
    expect(page.get_by_label("Header name")).to_have_value("X-Shop")
    page.get_by_role("button", name="Save", exact=True).click()

    # then the profile is saved through the service with everything chosen, and its secret shown once
    expect(page.locator(".messagelist")).to_contain_text("is saved")
    secret = page.locator("#cc-signing-secret").inner_text()
    assert secret.startswith("whsec_")
    profile = CallbackProfile.objects.get()
    assert profile.name == "Orders"
    assert profile.headers == {"X-Shop": "acme"}
    assert profile.encryption_cipher == "aes-256-gcm" and profile.encryption_key == "k" * 32
    assert profile.encryption_fields == ["phone"]
    assert profile.signing_secret == secret
    assert list(profile.event_types.values_list("code", flat=True)) == ["message.status"]
    shot(page, "04-configure-callback-saved")
    page.reload()
    expect(page.locator("#cc-signing-secret")).to_have_count(0)
    expect(page.locator(".cc-set")).to_contain_text("set")

    # rotating shows the new secret once
    page.get_by_role("button", name="Rotate secret").click()
    rotated = page.locator("#cc-signing-secret").inner_text()
    assert rotated.startswith("whsec_") and rotated != secret
    profile.refresh_from_db()
    assert profile.signing_secret == rotated and profile.previous_signing_secret == secret


def test_callback_list_shows_status_filters_and_row_actions(page, live_server, owner, owner_account):
    # given three profiles of the account, one disabled and one abnormal
    orders = profile_create(account=owner_account, name="Orders", url="http://127.0.0.1:9/orders", description="Shop")
    profile_create(account=owner_account, name="Billing", url="http://127.0.0.1:9/billing", http_method="PUT")
    sms = profile_create(account=owner_account, name="SMS receipts", url="http://127.0.0.1:9/sms")
    CallbackProfile.objects.filter(pk=sms.pk).update(status="abnormal", status_reason="Failing since 09:00")
    login(page, live_server, owner)

    # when they open the list
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/")
    rows = page.locator("#result_list > tbody > tr")
    expect(rows).to_have_count(3)
    expect(page.locator(f"[data-status-for='{sms.pk}']")).to_contain_text("Abnormal")
    expect(page.locator(f"[data-status-for='{sms.pk}']")).to_contain_text("Failing since 09:00")
    shot(page, "05-callback-settings")

    # then the status and method filters narrow it
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/?health=abnormal")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("SMS receipts")
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/?http_method__exact=PUT")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Billing")
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/?q=Orders")
    expect(rows).to_have_count(1)
    page.goto(
        f"{live_server.url}/admin/callbacks/callbackprofile/?created_at__from=2000-01-01&created_at__to=2000-12-31"
    )
    expect(page.locator("#result_list")).to_have_count(0)
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/?created_at__from=2000-01-01")
    expect(rows).to_have_count(3)

    # Disable, then Enable, from the row
    row = rows.filter(has_text="Orders")
    row.get_by_role("button", name="Disable").click()
    expect(page.locator(".messagelist")).to_contain_text("“Orders” is disabled")
    expect(page.locator(f"[data-status-for='{orders.pk}']")).to_contain_text("Disabled")
    rows.filter(has_text="Orders").get_by_role("button", name="Enable").click()
    expect(page.locator(f"[data-status-for='{orders.pk}']")).to_contain_text("Enabled")

    # Delete asks first, then the profile is gone
    rows.filter(has_text="Billing").get_by_role("link", name="Delete").click()
    expect(page.locator("dialog")).to_contain_text("Delete Billing? Nothing more will be sent to")
    shot(page, "06-delete-confirmation")
    page.locator("dialog").get_by_role("button", name="Delete").click()
    expect(rows).to_have_count(2)
    assert not CallbackProfile.objects.filter(name="Billing").exists()


def test_screens_fit_a_phone(page, live_server, owner, owner_account):
    # given a profile and a phone-sized window
    profile_create(account=owner_account, name="Orders", url="http://127.0.0.1:9/orders")
    page.set_viewport_size(PHONE)
    login(page, live_server, owner)
    shot(page, "07-phone-dashboard")
    # every screen's tab is in sight without scrolling the navigation sideways
    tabs_out_of_sight = page.evaluate(
        """() => [...document.querySelectorAll(".cc-nav a")]
            .filter((tab) => tab.getBoundingClientRect().right > window.innerWidth)
            .map((tab) => tab.textContent.trim())"""
    )
    assert tabs_out_of_sight == []

    # when the list and the form are opened, nothing is wider than the screen
    for path, name in (
        ("callbacks/callbackprofile/", "08-phone-list"),
        ("callbacks/callbackprofile/add/", "09-phone-form"),
    ):
        page.goto(f"{live_server.url}/admin/{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        shot(page, name)
        assert width <= PHONE["width"] + 1, f"{path} is {width}px wide on a {PHONE['width']}px screen"
        # and no field sticks out of its card (cut off at the card's edge)
        sticking_out = page.evaluate(FIELDS_OUTSIDE_THEIR_CARD)
        assert sticking_out == [], f"{path}: fields wider than their card: {sticking_out}"

    # and on a desktop, a long unbroken name wraps and the chosen option of a list shows whole
    long_name = profile_create(account=owner_account, name="x" * 200, url="http://127.0.0.1:9/long")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/{long_name.pk}/change/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= DESKTOP["width"] + 1, f"a 200-character name makes the page {width}px wide"
    assert page.evaluate(SELECTS_CUTTING_THEIR_TEXT) == []

    # and a short list ends where its rows end, without an empty card below
    page.goto(f"{live_server.url}/admin/callbacks/membership/")
    empty_below = page.evaluate(
        """() => document.querySelector("#changelist").getBoundingClientRect().bottom - Math.max(
            ...[...document.querySelector("#changelist").children].map((part) => part.getBoundingClientRect().bottom))"""
    )
    assert empty_below < 4, f"{empty_below}px of empty card under the list"
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/{long_name.pk}/change/")

    # and the number boxes know the service's limits, so the browser tells the range before sending
    page.locator("fieldset.collapse summary").click()
    page.fill("#id_max_in_flight", "0")
    page.fill("#id_connect_timeout_s", "45")
    assert page.eval_on_selector("#id_max_in_flight", "box => box.validity.rangeUnderflow")
    assert page.eval_on_selector("#id_connect_timeout_s", "box => box.validity.rangeOverflow")
