"""Configure events (thresholds, e-mails, Telegram through a fake Bot API) and Reports."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from alerts.models import AlertRecipients, AlertSettings
from callbacks.models import DeliveryStats
from callbacks.services.profiles import profile_create
from reports.models import Report
from reports.services import report_settings_update
from reports.services.sending import reports_send_due
from tests.alerts import conftest as alerts_fixtures
from tests.alerts.fake_telegram import BOT_USERNAME
from tests.e2e.conftest import PHONE, expect, login, shot

pytestmark = pytest.mark.e2e

# The alerts suite's fake Bot API server on 127.0.0.1, configured into the settings.
fake_telegram = alerts_fixtures.fake_telegram


def _poll_telegram_once() -> None:
    """`manage.py telegram_poll --once`, in a thread of its own (the browser driver owns this one's loop)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call_command("telegram_poll", "--once")
        except BaseException as error:  # surfaced in the test below
            errors.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=30)
    assert not errors, errors


def test_configure_events_thresholds_emails_and_telegram(page, live_server, owner, owner_account, fake_telegram):
    # given the Configure events screen
    login(page, live_server, owner)
    page.locator(".cc-nav").get_by_role("link", name="Configure events").click()
    expect(page.locator("h1")).to_contain_text("Configure events")

    # when thresholds are set with a bad balance and six e-mail addresses
    page.check("#id_timeout_enabled")
    page.fill("#id_timeout_minutes", "10")
    page.check("#id_rate_enabled")
    page.fill("#id_rate_min_percent", "75")
    page.check("#id_balance_enabled")
    page.fill("#id_balance_threshold_usd", "12.5")
    page.fill("#id_emails", ", ".join(f"ops{number}@example.com" for number in range(6)))
    page.get_by_role("button", name="Confirm").click()

    # then the errors show beside those fields and nothing is saved
    expect(
        page.locator(".cc-threshold", has=page.locator("#id_balance_threshold_usd")).locator(".errorlist")
    ).to_contain_text("whole number")
    expect(page.locator(".errorlist", has_text="At most 5")).to_be_visible()
    assert not AlertSettings.objects.filter(account=owner_account, balance_enabled=True).exists()
    shot(page, "30-configure-events-errors")

    # when corrected and confirmed
    page.fill("#id_balance_threshold_usd", "50")
    page.fill("#id_emails", "ops@example.com, oncall@example.com")
    page.get_by_role("button", name="Confirm").click()

    # then a success message, and the service stored them
    expect(page.locator(".messagelist")).to_contain_text("alert settings are saved")
    alert_settings = AlertSettings.objects.get(account=owner_account)
    assert (alert_settings.timeout_minutes, alert_settings.rate_min_percent, alert_settings.balance_threshold_usd) == (
        10,
        75,
        50,
    )
    assert alert_settings.timeout_enabled and alert_settings.rate_enabled and alert_settings.balance_enabled
    assert AlertRecipients.objects.get(account=owner_account).emails == ["ops@example.com", "oncall@example.com"]
    expect(page.locator("#id_emails")).to_have_value("ops@example.com, oncall@example.com")
    # the balance (0 USD) is below the new threshold: the alert is open, here and on the dashboard
    expect(page.locator(".cc-aside")).to_contain_text("Insufficient balance")
    page.locator(".cc-nav").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("open-alerts")).to_contain_text("Insufficient balance")
    shot(page, "29-dashboard-open-alert")
    page.locator(".cc-nav").get_by_role("link", name="Configure events").click()

    # the Telegram box opens the step; the owner asks for the bot's START BOT link
    expect(page.get_by_test_id("telegram-link")).to_be_hidden()
    page.check("#id_telegram")
    page.get_by_test_id("telegram-link").click()
    start_bot = page.get_by_test_id("start-bot")
    expect(start_bot).to_be_visible()
    link = start_bot.get_attribute("href")
    assert link.startswith(f"https://t.me/{BOT_USERNAME}?start=")
    shot(page, "31-configure-events-start-bot")

    # when the user presses Start in Telegram and the bot fetches its updates from the (fake) Bot API
    fake_telegram.user_writes(chat_id=4242, text=f"/start {link.split('start=')[1]}", username="ada_ops")
    _poll_telegram_once()

    # then the page shows the bound chat without a reload, and the bot answered in the chat
    expect(page.get_by_test_id("bound-chat")).to_have_text("@ada_ops", timeout=10_000)
    assert any(message.chat_id == 4242 and "Bound" in message.text for message in fake_telegram.messages)
    shot(page, "32-configure-events-bound")

    # Reacquire unbinds the chat and offers a new link
    page.get_by_role("button", name="Reacquire").click()
    expect(page.locator(".messagelist")).to_contain_text("previous chat is unbound")
    assert AlertRecipients.objects.get(account=owner_account).telegram_chat_id is None
    # and shows the new START BOT link at once, Telegram still ticked, on a desktop and a phone
    expect(page.locator("#id_telegram")).to_be_checked()
    expect(page.get_by_test_id("start-bot")).to_be_visible()
    assert page.get_by_test_id("start-bot").get_attribute("href") != link
    shot(page, "32b-configure-events-reacquired")
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_test_id("start-bot")).to_be_visible()
    shot(page, "32c-configure-events-reacquired-phone")


def _counted(profile, *, now, hours_ago) -> None:
    """Hourly rollups of `profile` at each of `hours_ago` before `now`: as many delivered as hours ago, a few failed."""
    for hours in hours_ago:
        DeliveryStats.objects.create(
            account=profile.account,
            profile=profile,
            event_type="message.status",
            hour=(now - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0),
            delivered=hours,
            failed=hours % 4,
            attempts=hours + hours % 4,
        )


def test_reports_frequencies_addresses_and_history_with_chart(page, live_server, owner, owner_account, stranger):
    # given callbacks counted over the last days
    profile = profile_create(account=owner_account, name="Orders", url="http://127.0.0.1:9/orders")
    now = timezone.now()
    _counted(profile, now=now, hours_ago=range(20, 60, 3))
    login(page, live_server, owner)
    page.locator(".cc-nav").get_by_role("link", name="Reports").click()
    expect(page.get_by_test_id("report-history")).to_contain_text("No report yet")

    # when a bad address is given, then fixed with daily and weekly chosen
    page.check("input[name=frequencies][value=daily]")
    page.check("input[name=frequencies][value=weekly]")
    page.fill("#id_recipients", "finance@example.com, not-an-address")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".errorlist")).to_contain_text("not-an-address")
    page.fill("#id_recipients", "finance@example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messagelist")).to_contain_text("report settings are saved")
    expect(page.locator(".cc-aside")).to_contain_text("Daily")
    expect(page.locator(".cc-aside")).to_contain_text("finance@example.com")
    shot(page, "33-reports-settings")

    # and, as if daily reports had been on for three days, the schedule sends the periods due
    report_settings_update(account=owner_account, frequencies=[], recipients="finance@example.com")
    report_settings_update(
        account=owner_account, frequencies=["daily"], recipients="finance@example.com", now=now - timedelta(days=3)
    )
    sent = reports_send_due(now=now)
    assert sent and mail.outbox

    # then the history lists them, and one opens with its chart
    page.reload()
    history = page.get_by_test_id("report-history")
    expect(history.locator("tbody tr")).to_have_count(Report.objects.filter(account=owner_account).count())
    expect(history).to_contain_text("Sent")
    shot(page, "34-reports-history")
    history.get_by_role("link", name="View").first.click()
    chart = page.get_by_test_id("report-chart")
    expect(chart).to_be_visible()
    # (wait_for_function would evaluate a string, which the Content-Security-Policy forbids)
    for _ in range(100):
        if chart.evaluate("image => image.complete && image.naturalWidth") > 100:
            break
        page.wait_for_timeout(100)
    assert chart.evaluate("image => image.naturalWidth") > 100
    expect(page.locator("#content")).to_contain_text("Orders")
    shot(page, "35-report-detail")

    # and another account's user finds none of it
    report_url = page.url
    page.get_by_role("button", name="Log out").click()
    login(page, live_server, stranger)
    assert page.goto(report_url).status == 404
    assert page.goto(f"{report_url}chart.png").status == 404
    page.goto(f"{live_server.url}/admin/reports/")
    expect(page.get_by_test_id("report-history")).to_contain_text("No report yet")
    expect(page.locator("#id_recipients")).to_have_value("")


def test_configure_events_says_when_no_telegram_bot_is_set_up(page, live_server, owner, settings):
    # given a server without a Telegram bot
    settings.TELEGRAM_BOT_USERNAME = ""
    login(page, live_server, owner)
    page.locator(".cc-nav").get_by_role("link", name="Configure events").click()

    # when the customer ticks Telegram
    page.check("#id_telegram")

    # then they read why it cannot work yet instead of getting a START BOT link to no bot
    expect(page.get_by_test_id("telegram-unavailable")).to_contain_text("Telegram is not set up on this server")
    expect(page.get_by_test_id("start-bot")).to_have_count(0)

    # and on a phone each box sits beside its words, and nothing runs past the edge of its card
    page.set_viewport_size(PHONE)
    page.reload()
    shot(page, "34-phone-configure-events")
    gaps = page.evaluate(
        """() => [...document.querySelectorAll("label.cc-inline")].map((label) => {
            const words = document.createRange();
            words.selectNodeContents(label.querySelector("strong"));
            const box = label.querySelector("input").getBoundingClientRect();  // stretched, it draws its tick mid-row
            return words.getBoundingClientRect().left - (box.left + box.width / 2);
        })"""
    )
    assert gaps and all(0 <= gap < 24 for gap in gaps), gaps
    sticking_out = page.evaluate(
        """() => [...document.querySelectorAll(".form-row > *")].filter((part) =>
            part.getBoundingClientRect().right > part.closest("fieldset").getBoundingClientRect().right + 1
        ).map((part) => part.textContent.trim().slice(0, 40))"""
    )
    assert sticking_out == []


def _inside_the_screen(page, locator) -> None:
    width = page.viewport_size["width"]
    for index in range(locator.count()):
        box = locator.nth(index).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (index, box, width)


def test_the_report_history_and_a_report_fit_a_phone(page, live_server, owner, owner_account):
    # given an account on a phone, with no report yet
    page.set_viewport_size(PHONE)
    profile = profile_create(
        account=owner_account, name="Orders and shipping notifications", url="http://127.0.0.1:9/o"
    )
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/reports/")

    # then the empty history says so in full, nothing scrolled out of sight
    empty = page.get_by_test_id("report-history").get_by_text("No report yet")
    expect(empty).to_be_visible()
    _inside_the_screen(page, empty)

    # when daily reports have run for three days over counted deliveries
    now = timezone.now()
    _counted(profile, now=now, hours_ago=range(20, 60, 5))
    report_settings_update(
        account=owner_account, frequencies=["daily"], recipients="finance@example.com", now=now - timedelta(days=3)
    )
    assert reports_send_due(now=now)
    page.reload()

    # then each report is a card: its period, counts, state and View all within the screen's width
    rows = page.get_by_test_id("report-history").locator("tbody tr")
    expect(rows).to_have_count(Report.objects.filter(account=owner_account).count())
    _inside_the_screen(page, rows.first.locator("td"))
    expect(rows.first.locator("td[data-label=Period]")).to_be_visible()
    assert not page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
    shot(page, "36-phone-report-history")

    # and a report's counts per callback fit as well
    rows.first.get_by_role("link", name="View").click()
    per_callback = page.get_by_test_id("report-per-callback").locator("tbody td")
    expect(per_callback.first).to_contain_text("Orders and shipping notifications")
    _inside_the_screen(page, per_callback)
    assert not page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
    shot(page, "37-phone-report-detail")
