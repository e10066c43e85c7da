"""The operator's commands: account_create, apikey_create and secrets_reencrypt."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from callbacks.models import Account, ApiKey, CallbackProfile
from callbacks.services.api_keys import api_key_authenticate
from tests.factories import AccountFactory, CallbackProfileFactory


def run(command: str, *args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command(command, *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue().strip(), stderr.getvalue().strip()


@pytest.mark.django_db
def test_account_create_prints_the_new_account_id():
    # when an operator creates an account
    out, _ = run("account_create", "--name", "Acme", "--admin-email", "ops@acme.test", "--timezone", "Asia/Singapore")
    # then the only output is its id, and the account is stored as given
    account = Account.objects.get(pk=uuid.UUID(out))
    assert (account.name, account.admin_email, account.timezone) == ("Acme", "ops@acme.test", "Asia/Singapore")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "Acme", "--admin-email", "not-an-address"], "admin_email: “not-an-address” is not a valid e-mail"),
        (["--name", "Acme", "--admin-email", "ops@acme.test", "--timezone", "Mars/Olympus"], "timezone:"),
        (["--name", " ", "--admin-email", "ops@acme.test"], "name: Enter a name."),
    ],
)
def test_account_create_explains_bad_input(args, message):
    with pytest.raises(CommandError) as error:
        run("account_create", *args)
    assert message in str(error.value)
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_apikey_create_prints_a_working_key_once():
    # given an account
    account = AccountFactory()
    # when a read-only key with an expiry is created
    out, err = run(
        "apikey_create", "--account", str(account.id), "--scopes", "read", "--expires-days", "7", "--name", "ci"
    )
    # then stdout is the key, it authenticates for that account with those scopes, and it is stored only hashed
    api_key = api_key_authenticate(raw_key=out)
    assert api_key is not None and api_key.account == account
    assert api_key.scopes == ["read"] and api_key.name == "ci" and api_key.expires_at is not None
    assert out not in api_key.key_hash and api_key.prefix in out
    assert "not shown again" in err


@pytest.mark.django_db
def test_apikey_created_from_the_command_line_works_against_the_api(client):
    account = AccountFactory()
    key, _ = run("apikey_create", "--account", str(account.id))
    response = client.get("/api/v1/account/", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.json()["id"] == str(account.id)


@pytest.mark.django_db
def test_apikey_create_finds_the_account_by_its_name_too():
    # given the account `make run` creates, whose id nobody has been shown
    account = AccountFactory(name="Demo account")
    AccountFactory(name="Other")
    # when the operator names it instead
    key, err = run("apikey_create", "--account", "Demo account")
    # then the key is that account's
    assert api_key_authenticate(raw_key=key).account == account
    assert "“Demo account”" in err


@pytest.mark.django_db
def test_apikey_create_lists_the_accounts_when_it_cannot_tell_which_one_is_meant():
    first, second = AccountFactory(name="Acme"), AccountFactory(name="Acme")
    AccountFactory(name="Globex")
    # an unknown account: the error names the accounts there are, by id and name
    with pytest.raises(CommandError) as error:
        run("apikey_create", "--account", "Initech")
    assert "No account with id or name “Initech”" in str(error.value)
    assert f"{first.id}  Acme" in str(error.value) and "Globex" in str(error.value)
    # a name two accounts share: the error says so and names both ids
    with pytest.raises(CommandError) as error:
        run("apikey_create", "--account", "Acme")
    assert "2 accounts are named “Acme”" in str(error.value)
    assert str(first.id) in str(error.value) and str(second.id) in str(error.value)
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "nope"], "No account with id or name “nope”"),
        (["--account", str(uuid.uuid4())], "No account with id or name"),
        (["--scopes", "read,admin"], "scopes: Choose one or more of: read, write"),
        (["--expires-days", "0"], "--expires-days must be 1 or more"),
    ],
)
def test_apikey_create_explains_bad_input(args, message):
    account = AccountFactory()
    full = ["--account", str(account.id), *args] if args[0] != "--account" else args
    with pytest.raises(CommandError) as error:
        run("apikey_create", *full)
    assert message in str(error.value)
    assert not ApiKey.objects.exists()


def stored_token(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk.hex if connection.vendor == "sqlite" else pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_secrets_reencrypt_moves_every_secret_to_the_first_key(settings):
    # given secrets stored under the old key
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    profile = CallbackProfileFactory(auth_username="u", auth_password="hunter2", md5_salt="pepper", sign_md5=True)
    account = profile.account
    before = stored_token("callbacks_callbackprofile", "auth_password", profile.pk)
    assert before.startswith("fernet:") and "hunter2" not in before
    # when a new key is put first and the command runs
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out, _ = run("secrets_reencrypt")
    # then every secret is readable with the new key alone
    assert "callbacks.CallbackProfile.auth_password: 1 re-encrypted" in out
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    reloaded = CallbackProfile.objects.get(pk=profile.pk)
    assert (reloaded.auth_password, reloaded.md5_salt) == ("hunter2", "pepper")
    assert reloaded.signing_secret.startswith("whsec_")
    assert Account.objects.get(pk=account.pk).platform_api_key == account.platform_api_key
    after = stored_token("callbacks_callbackprofile", "auth_password", profile.pk)
    assert after != before and Fernet(new_key.encode()).decrypt(after.removeprefix("fernet:").encode()) == b"hunter2"


@pytest.mark.django_db
def test_secrets_reencrypt_names_secrets_no_key_can_read(settings):
    # given a secret stored under a key that was then removed
    profile = CallbackProfileFactory(auth_username="u", auth_password="hunter2")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    # when the command runs / then it fails naming the row
    with pytest.raises(CommandError) as error:
        run("secrets_reencrypt")
    assert f"callbacks.CallbackProfile.auth_password pk={profile.pk}" in str(error.value)
