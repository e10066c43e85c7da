"""Browser tests: Debian's Chromium driven by Playwright's sync API against pytest-django's live_server.

Playwright's sync API runs an event loop in the test thread, so Django's async-safety check is off
here. Screenshots of every screen go to tests/e2e/screenshots/ (ignored by git).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import Browser, Page, expect, sync_playwright

from callbacks.models import Account, Membership
from tests.factories import AccountFactory, MembershipFactory, UserFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "correct horse battery staple"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def browser() -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make system-packages)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, transactional_db) -> Page:
    context = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    context.close()


@pytest.fixture
def owner(transactional_db):
    """A staff user owning one account: the customer walking the screens."""
    membership = MembershipFactory(account=AccountFactory(name="Acme Messaging"), role=Membership.Role.OWNER)
    return membership.user


@pytest.fixture
def owner_account(owner) -> Account:
    return owner.memberships.get().account


@pytest.fixture
def stranger(transactional_db):
    """Another account's owner."""
    membership = MembershipFactory(account=AccountFactory(name="Globex"), role=Membership.Role.OWNER)
    return membership.user


def login(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator(".cc-brand")).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot of the screen as it is now."""
    SCREENSHOTS.mkdir(exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page)
    return target


__all__ = ["DESKTOP", "PHONE", "UserFactory", "expect", "login", "shot"]
