"""A refused http:// or private address: the operator learns which setting allows it, a customer the reason."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from callbacks.models import CallbackProfile
from tests.e2e.conftest import DESKTOP, PASSWORD, PHONE, expect, login, shot

pytestmark = pytest.mark.e2e

SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]


@pytest.fixture
def strict_network(settings):
    """As a production server runs: https only, no private addresses."""
    settings.CALLBACKS_ALLOW_HTTP = False
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = False


def _add_callback(page, live_server, url: str) -> None:
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/add/")
    page.fill("#id_name", "Local receiver")
    page.fill("#id_url", url)
    page.get_by_role("button", name="Save", exact=True).click()


@pytest.mark.parametrize("size", SIZES)
def test_an_operator_is_told_the_setting_and_a_customer_the_reason(
    page, live_server, owner, owner_account, strict_network, size
):
    # given an operator on a server that refuses http:// and private addresses
    page.set_viewport_size(size)
    operator = get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    login(page, live_server, operator)

    # when they add a callback on http://127.0.0.1, then on https://127.0.0.1
    _add_callback(page, live_server, "http://127.0.0.1:9/hook")

    # then the error names the setting that allows each
    url_errors = page.locator(".field-url .errorlist")
    expect(url_errors).to_contain_text("https://")
    expect(url_errors).to_contain_text("CALLBACKS_ALLOW_HTTP=true")
    shot(page, f"70-refused-http-operator-{size['width']}")
    page.fill("#id_url", "https://127.0.0.1:9/hook")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(url_errors).to_contain_text("CALLBACKS_ALLOW_PRIVATE_NETWORKS=true")

    # when a customer does the same, they get the plain reason without the server's settings
    page.context.clear_cookies()
    login(page, live_server, owner)
    _add_callback(page, live_server, "http://127.0.0.1:9/hook")
    expect(url_errors).to_contain_text("https://")
    expect(url_errors).not_to_contain_text("CALLBACKS_ALLOW")
    shot(page, f"71-refused-http-customer-{size['width']}")
    assert not CallbackProfile.objects.exists()
