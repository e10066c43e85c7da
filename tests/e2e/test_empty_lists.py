"""Lists with nothing in them say so in words, and a search or filter that finds nothing says that instead."""

from __future__ import annotations

import pytest

from callbacks import event_types
from callbacks.services.profiles import profile_create
from tests.e2e.conftest import DESKTOP, PHONE, expect, login, shot

pytestmark = pytest.mark.e2e

SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]


@pytest.mark.parametrize("size", SIZES)
def test_a_new_account_sees_what_each_empty_list_is_for(page, live_server, owner, size):
    # given a new account with nothing in it
    page.set_viewport_size(size)
    login(page, live_server, owner)

    # then each list says what it will hold, not a bare count
    for screen, text in (
        ("callbackprofile", "No callbacks yet"),
        ("delivery", "No deliveries yet"),
        ("apikey", "No API keys yet"),
    ):
        page.goto(f"{live_server.url}/admin/callbacks/{screen}/")
        empty = page.get_by_test_id("empty-list")
        expect(empty).to_contain_text(text)
        expect(page.locator(".paginator")).to_have_count(0)
        assert not page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
        shot(page, f"empty-{screen}-{size['width']}")


def test_a_search_that_finds_nothing_says_so_and_offers_everything_again(page, live_server, owner, owner_account):
    # given one callback
    profile_create(
        account=owner_account, name="Orders", url="https://hooks.example.com/o", event_types=[event_types.OTP_SENT]
    )
    login(page, live_server, owner)

    # when the customer searches for something that is not there
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/?q=nothing-like-this")

    # then the list says nothing matches (not that there are no callbacks), and Show all brings it back
    empty = page.get_by_test_id("empty-list")
    expect(empty).to_contain_text("Nothing matches")
    expect(empty).not_to_contain_text("No callbacks yet")
    empty.get_by_role("link", name="Show all").click()
    expect(page.locator("#result_list")).to_contain_text("Orders")
    expect(page.get_by_test_id("empty-list")).to_have_count(0)


def test_the_unfiltered_log_offers_no_show_all_a_filtered_one_does(page, live_server, owner):
    login(page, live_server, owner)
    # the log as it opens: nothing to "show all" of
    page.goto(f"{live_server.url}/admin/callbacks/delivery/")
    expect(page.locator("#changelist-search")).not_to_contain_text("Show all")
    # searched: the count of what matched, and the way back to everything
    page.goto(f"{live_server.url}/admin/callbacks/delivery/?q=msg-1")
    expect(page.locator("#changelist-search")).to_contain_text("0 results (Show all)")
