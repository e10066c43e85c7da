"""The "Configure a callback" form: the profile rules of the API, shown as form errors; nothing is
written while the form is only being validated."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from callbacks import event_types
from callbacks.admin_views.profile_form import CallbackProfileForm
from callbacks.models import CallbackProfile, Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _form_data(**overrides) -> dict:
    return {
        "name": "Orders",
        "description": "",
        "url": "http://127.0.0.1:9/hook",
        "http_method": "POST",
        "headers": "{}",
        "body_type": "json",
        "body_template": "",
        "sign_standard_webhooks": "on",
        "encryption_cipher": "",
        "encryption_iv_random": "on",
        "event_types": [event_types.MESSAGE_STATUS],
        "response_contract": "http",
        "batch_max_size": "1",
        "batch_max_wait_ms": "0",
        "connect_timeout_s": "5",
        "response_timeout_s": "60",
        "retry_schedule_s": "",
        "max_in_flight": "20",
        "failure_notice_emails": "",
        **overrides,
    }


@pytest.fixture
def owner_client(account) -> Client:
    membership = MembershipFactory(account=account, role=Membership.Role.OWNER)
    client = Client()
    client.force_login(membership.user)
    return client


def test_validating_the_form_writes_nothing(account):
    # given a valid form for a new profile
    form = CallbackProfileForm(data=_form_data(), account=account)

    # when it is validated, it is valid and nothing is stored yet
    assert form.is_valid(), form.errors
    assert not CallbackProfile.objects.exists()

    # then saving goes through the service
    profile, _ = form.service_save()
    assert CallbackProfile.objects.get().pk == profile.pk


def test_a_lone_surrogate_in_the_headers_box_is_a_form_error_and_the_screens_keep_working(account, owner_client):
    # when the headers box holds a JSON escape of a lone surrogate
    add_url = reverse("admin:callbacks_callbackprofile_add")
    response = owner_client.post(add_url, _form_data(headers='{"X-A": "\\ud800"}'))

    # then the form answers with the reason beside the field, and nothing is stored
    assert response.status_code == 200
    page = response.content.decode()
    assert "\\ud800" in page and "only visible ASCII" in page
    assert not CallbackProfile.objects.exists()
    assert owner_client.get(reverse("admin:callbacks_callbackprofile_changelist")).status_code == 200


@pytest.mark.parametrize(
    ("headers", "reason"),
    [('{"X-A": {"b": 1}}', "must be text, not an object"), ('{"X-A": "🙂"}', "only visible ASCII")],
)
def test_header_values_follow_the_api_rules_in_the_admin(account, owner_client, headers, reason):
    response = owner_client.post(reverse("admin:callbacks_callbackprofile_add"), _form_data(headers=headers))
    assert response.status_code == 200 and reason in response.content.decode()
    assert not CallbackProfile.objects.exists()


def test_a_valid_form_is_saved_once_through_the_service(account, owner_client):
    response = owner_client.post(reverse("admin:callbacks_callbackprofile_add"), _form_data(name="Saved"))
    assert response.status_code == 302
    profile = CallbackProfile.objects.get()
    assert profile.name == "Saved" and profile.account == account and profile.signing_secret.startswith("whsec_")
