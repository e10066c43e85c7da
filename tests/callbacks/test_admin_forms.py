"""The screens' forms check in clean() and write only when the screen saves, through the services."""

from __future__ import annotations

from callbacks.admin_views.accounts import AccountForm, ApiKeyCreateForm
from callbacks.admin_views.profile_form import CallbackProfileForm
from callbacks.models import Account, ApiKey, CallbackProfile
from tests.factories import AccountFactory


def test_the_account_form_validates_without_writing_then_saves_through_the_service(db):
    # given an account and a valid change
    account = AccountFactory(name="Acme", timezone="UTC")
    data = {"name": "Acme Messaging", "timezone": "Asia/Singapore", "admin_email": "ops@acme.test"}
    data |= {"balance_usd": "0", "platform_account_id": account.platform_account_id, "platform_api_key": ""}
    form = AccountForm(data, instance=Account.objects.get(pk=account.pk))

    # when it is validated, then nothing is written yet
    assert form.is_valid(), form.errors
    account.refresh_from_db()
    assert (account.name, account.timezone) == ("Acme", "UTC")

    # when the screen saves, then the service writes it
    form.service_save()
    account.refresh_from_db()
    assert (account.name, account.timezone) == ("Acme Messaging", "Asia/Singapore")


def test_the_account_form_puts_the_services_errors_beside_the_fields(db):
    account = AccountFactory()
    data = {"name": "", "timezone": "UTC", "admin_email": "nope", "balance_usd": "0"}
    form = AccountForm(data, instance=account)
    assert not form.is_valid()
    assert "admin_email" in form.errors and "name" in form.errors


def test_the_callback_and_api_key_forms_write_nothing_while_validating(db):
    # given valid new callback and key forms
    account = AccountFactory()
    profile_form = CallbackProfileForm(
        {"name": "Orders", "url": "http://127.0.0.1:9/o", "http_method": "POST", "body_type": "json",
         "response_contract": "http", "batch_max_size": "1", "batch_max_wait_ms": "0", "connect_timeout_s": "5",
         "response_timeout_s": "60", "max_in_flight": "20", "sign_standard_webhooks": "on",
         "encryption_iv_random": "on", "headers": "{}"},
        account=account,
    )  # fmt: skip
    key_form = ApiKeyCreateForm({"name": "Shop", "scope_choices": ["read"]})
    key_form.account, key_form.user = account, None

    # when they are validated, then nothing is stored
    assert profile_form.is_valid(), profile_form.errors
    assert key_form.is_valid(), key_form.errors
    assert not CallbackProfile.objects.exists() and not ApiKey.objects.exists()

    # when the screen saves, then the services store them (the new signing secret shown once)
    profile, secret = profile_form.service_save()
    api_key, raw_key = key_form.service_save()
    assert profile.name == "Orders" and secret.startswith("whsec_")
    assert api_key.scopes == ["read"] and raw_key.startswith(api_key.prefix)
