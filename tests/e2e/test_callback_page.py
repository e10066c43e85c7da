"""A callback's page: its id to copy, a curl that triggers it, readable event types, the failure-notice
address in view, and secrets kept through a failed save."""

from __future__ import annotations

import os
import subprocess

import pytest

from callbacks import event_types
from callbacks.models import Delivery
from callbacks.services.api_keys import api_key_create
from callbacks.services.profiles import profile_create
from tests.e2e.conftest import DESKTOP, PHONE, expect, login, shot

pytestmark = pytest.mark.e2e

SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]


@pytest.mark.parametrize("size", SIZES)
def test_the_page_shows_the_id_and_a_curl_that_triggers_it(page, live_server, owner, owner_account, receiver, size):
    # given a customer's callback subscribed to OTPs, and an API key for their program
    page.set_viewport_size(size)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    profile = profile_create(
        account=owner_account, name="OTP hook", url=receiver.url("/otp"), event_types=[event_types.OTP_SENT]
    )
    _, raw_key = api_key_create(account=owner_account, name="Shop")
    login(page, live_server, owner)

    # when they open it
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/{profile.pk}/change/")

    # then its id shows with a Copy button that copies it
    identity = page.get_by_test_id("callback-identity")
    expect(identity.locator("#cc-callback-id")).to_have_text(str(profile.pk))
    identity.get_by_role("button", name="Copy", exact=True).click()
    expect(identity.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == str(profile.pk)

    # and the ready curl, run as shown with the key, triggers it
    identity.get_by_text("Trigger it from a program").click()
    curl = page.locator("#cc-trigger-curl").inner_text()
    assert f"/api/v1/callback-profiles/{profile.pk}/trigger/" in curl and '"otp.sent"' in curl
    shot(page, f"42-callback-id-and-curl-{size['width']}")
    answer = subprocess.run(
        ["/bin/sh", "-c", curl + " -s -o /dev/null -w '%{http_code}'"],
        env={**os.environ, "CALLBACK_CENTER_API_KEY": raw_key},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert answer.stdout == "202", answer.stderr
    assert Delivery.objects.filter(profile=profile, event_type=event_types.OTP_SENT).count() == 1


@pytest.mark.parametrize("size", SIZES)
def test_event_types_read_as_words_and_failure_notices_are_in_view(page, live_server, owner, owner_account, size):
    # given a customer adding a callback
    page.set_viewport_size(size)
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/add/")

    # then each event type reads as words with its code beside it
    timeout_label = page.locator("label[data-code='otp.verification_timeout']")
    expect(timeout_label).to_contain_text("OTP not verified in time")
    expect(timeout_label.locator("code")).to_have_text("otp.verification_timeout")

    # and the failure-notice address is in view without opening anything, naming the default
    notices = page.locator("#id_failure_notice_emails")
    expect(notices).to_be_visible()
    expect(page.locator(".field-failure_notice_emails")).to_contain_text(owner_account.admin_email)
    shot(page, f"43-callback-events-and-notices-{size['width']}")


@pytest.mark.parametrize("size", SIZES)
def test_secrets_typed_stay_after_a_failed_save(page, live_server, owner, size):
    # given a new callback with a password, a salt and a key, but an address that is not one
    page.set_viewport_size(size)
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/add/")
    page.fill("#id_name", "Secrets")
    page.fill("#id_url", "not an address")
    page.fill("#id_auth_username", "shop")
    page.fill("#id_auth_password", "s3cret-pass")
    page.check("#id_sign_md5")
    page.fill("#id_md5_salt", "salty")

    # when they save
    page.get_by_role("button", name="Save", exact=True).click()

    # then the address error shows and what they typed into the secret boxes is still there
    expect(page.locator(".field-url .errorlist")).to_be_visible()
    expect(page.locator("#id_auth_password")).to_have_value("s3cret-pass")
    expect(page.locator("#id_md5_salt")).to_have_value("salty")
    shot(page, f"44-callback-failed-save-keeps-secrets-{size['width']}")
