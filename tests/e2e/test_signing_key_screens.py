"""A callback signing with ed25519 (v1a): its public key on the change page, copied and rotated, in Chromium."""

from __future__ import annotations

import re

import pytest

from callbacks.models import CallbackProfile
from callbacks.services.profiles import profile_public_keys
from tests.e2e.conftest import DESKTOP, PHONE, expect, login, shot

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_change_page_shows_the_public_key_to_copy_and_rotates_it(page, live_server, owner, receiver, viewport):
    page.set_viewport_size(viewport)
    login(page, live_server, owner)
    # given a new callback that signs with ed25519 only
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/add/")
    page.fill("#id_name", "Orders")
    page.fill("#id_url", receiver.url("/hooks"))
    page.locator("label[data-code='message.status'] input").check()
    page.uncheck("#id_sign_standard_webhooks")
    page.check("#id_sign_v1a")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("is saved")

    # then the change page shows its public key, the stored key's, with a copy button
    profile = CallbackProfile.objects.get()
    assert profile.sign_v1a and not profile.sign_standard_webhooks
    public_key, _ = profile_public_keys(profile)
    card = page.get_by_test_id("signing-public-key")
    expect(card.locator("#cc-public-key")).to_have_text(public_key)
    assert public_key.startswith("whpk_")
    copy = card.locator("button[data-copy='#cc-public-key']")
    expect(copy).to_have_text("Copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    # and nothing of the private key is in the page
    assert profile.signing_private_key.removeprefix("whsk_") not in page.content()
    # and the card fits the screen
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"] + 1, f"the page is {width}px wide on a {viewport['width']}px screen"
    box = card.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 1
    shot(page, f"40-public-key-{viewport['width']}")

    # when the key is rotated (the confirmation is accepted)
    card.get_by_role("button", name="Rotate key").click()
    expect(page.locator(".messagelist")).to_contain_text("new signing key")

    # then the new public key is shown, and the previous one still signing with its end
    profile.refresh_from_db()
    new_key, retired = profile_public_keys(profile)
    assert new_key != public_key and [key for key, _ in retired] == [public_key]
    card = page.get_by_test_id("signing-public-key")
    expect(card.locator("#cc-public-key")).to_have_text(new_key)
    expect(card.locator(".cc-retired-key")).to_contain_text(public_key)
    expect(card.locator(".cc-retired-key")).to_contain_text(re.compile(r"also signs until \d{4}-\d\d-\d\d \d\d:\d\d"))
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
    shot(page, f"41-public-key-rotated-{viewport['width']}")
