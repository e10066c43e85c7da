"""The screens work under the Content-Security-Policy: walking the main screens in Chromium reports
no violation (no inline script, no outside resource), and the pages still behave."""

from __future__ import annotations

import pytest

from callbacks import event_types
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import Delivery
from callbacks.services.events import event_emit
from callbacks.services.profiles import profile_create
from tests.e2e.conftest import expect, login

pytestmark = pytest.mark.e2e

# Every violation the page sees, whatever its source, lands in window.__cspViolations.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || ""));
});
"""


def test_the_main_screens_raise_no_csp_violation(page, live_server, owner, owner_account, receiver):
    # given a profile with a delivery, so the lists and details have something to show
    profile = profile_create(
        account=owner_account, name="Orders", url=receiver.url("/hooks"), event_types=[event_types.MESSAGE_STATUS]
    )
    event_emit(account=owner_account, type=event_types.MESSAGE_STATUS, data={"phone": "+14155550199"})
    while dispatch_batch(worker_id="csp"):
        pass
    delivery = Delivery.objects.get()
    console_violations: list[str] = []
    page.on(
        "console",
        lambda message: console_violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.add_init_script(RECORD_VIOLATIONS)

    # when the owner signs in and walks the screens
    login(page, live_server, owner)
    screens = [
        "/admin/",
        "/admin/callbacks/callbackprofile/",
        "/admin/callbacks/callbackprofile/add/",
        f"/admin/callbacks/callbackprofile/{profile.pk}/change/",
        "/admin/callbacks/delivery/",
        f"/admin/callbacks/delivery/{delivery.pk}/change/",
        "/admin/callbacks/delivery/replay/",
        "/admin/alerts/configure/",
        "/admin/reports/",
        "/admin/callbacks/apikey/",
        "/admin/callbacks/apikey/add/",
        f"/admin/callbacks/account/{owner_account.pk}/change/",
        "/api/docs/",
    ]
    recorded: dict[str, list[str]] = {}
    for path in screens:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "Content-Security-Policy" in response.headers or "content-security-policy" in response.headers
        page.wait_for_load_state("networkidle")
        found = page.evaluate("window.__cspViolations")
        if found:
            recorded[path] = found

    # then no screen broke the policy
    assert recorded == {} and console_violations == []
    # and the scripts did run: the profile form's key/value editor and the API docs were built
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/add/")
    expect(page.locator(".cc-kv").first).to_be_visible()
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui").first).to_be_visible()
