"""No raw admin leftovers for a customer: one name, one Save and Cancel, no History or app index."""

from __future__ import annotations

import pytest

from callbacks.services.profiles import profile_create
from tests.e2e.conftest import DESKTOP, PHONE, expect, login, shot

pytestmark = pytest.mark.e2e

SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]


@pytest.mark.parametrize("size", SIZES)
def test_lists_show_no_bulk_bar_counts_or_raw_filter_labels(page, live_server, owner, owner_account, size):
    # given a customer with a callback, on a desktop or a phone
    page.set_viewport_size(size)
    profile_create(account=owner_account, name="Orders", url="http://127.0.0.1:9/orders")
    login(page, live_server, owner)

    # when they open the callbacks, the delivery log and the members
    page.locator(".cc-nav").get_by_role("link", name="Callbacks", exact=True).click()

    # then one name is used, with no bulk action bar, no "Show counts", and filters in words
    expect(page.locator("h1")).to_have_text("Callbacks")
    expect(page.get_by_role("link", name="Add callback")).to_be_visible()
    expect(page.locator("select[name=action]")).to_have_count(0)
    expect(page.locator("#content")).not_to_contain_text("Show counts")
    filters = page.locator("#changelist-filter")
    expect(filters).not_to_contain_text("By ")
    expect(filters.locator("summary", has_text="HTTP method")).to_have_count(1)
    expect(filters).to_contain_text("POST")
    shot(page, f"40-chrome-callbacks-{size['width']}")
    for path in ("callbacks/delivery/", "callbacks/membership/", "callbacks/apikey/"):
        page.goto(f"{live_server.url}/admin/{path}")
        if path == "callbacks/delivery/":
            summaries = page.locator("#changelist-filter summary")
            expect(summaries).to_have_text(["Status", "Callback", "Event type", "Time"])
        expect(page.locator("select[name=action]")).to_have_count(0)
        expect(page.locator("#content")).not_to_contain_text("Show counts")
        expect(page.locator("#content")).not_to_contain_text("By ")

    # and the header links to the API docs, which answer
    page.get_by_test_id("api-docs-link").click()
    expect(page).to_have_url(f"{live_server.url}/api/docs/")


@pytest.mark.parametrize("size", SIZES)
def test_a_callbacks_page_has_one_save_and_cancel_and_no_history(page, live_server, owner, owner_account, size):
    # given a customer's callback
    page.set_viewport_size(size)
    profile = profile_create(account=owner_account, name="Orders", url="http://127.0.0.1:9/orders")
    login(page, live_server, owner)

    # when they open it
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/{profile.pk}/change/")

    # then it is a "Callback" with one Save and a Cancel, and no History
    expect(page.locator("h1")).to_contain_text("Callback")
    submit = page.locator(".submit-row")
    expect(submit.locator("input[type=submit]")).to_have_count(1)
    expect(submit.get_by_role("button", name="Save", exact=True)).to_be_visible()
    expect(page.locator("#content")).not_to_contain_text("Save and add another")
    expect(page.locator("#content")).not_to_contain_text("Save and continue editing")
    expect(page.get_by_role("link", name="History")).to_have_count(0)
    shot(page, f"41-chrome-callback-page-{size['width']}")
    submit.get_by_role("link", name="Cancel").click()
    expect(page.locator("h1")).to_have_text("Callbacks")

    # and neither Django's history page nor its app index answers
    response = page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/{profile.pk}/history/")
    assert response.status == 404
    page.goto(f"{live_server.url}/admin/callbacks/")
    expect(page.locator("h1")).to_contain_text("Dashboard")
    expect(page.locator("#content")).not_to_contain_text("administration")
