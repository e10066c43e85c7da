"""ed25519 (`v1a`) signatures: configured through the API, sent by the engine to a real receiver on
127.0.0.1, and verified with PyNaCl (libsodium), a library independent of the `cryptography` that signs."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from standardwebhooks.webhooks import Webhook

from callbacks import event_types
from callbacks.delivery.render.signing import signing_key_generate
from callbacks.models import CallbackProfile, Membership
from callbacks.services.profiles import profile_public_keys, profile_signing_key_rotate
from tests.callbacks.engine_helpers import SECRET, profile_for, send_one
from tests.factories import MembershipFactory

PASSWORD = "correct horse battery staple"  # the factories' password

pytestmark = pytest.mark.django_db

PROFILES = "/api/v1/callback-profiles/"


def v1a_verifies(public_key: str, headers: dict, signed: bytes) -> bool:
    """Whether one `v1a` entry of webhook-signature is `public_key`'s signature of `{id}.{timestamp}.{signed}`."""
    verify_key = VerifyKey(base64.b64decode(public_key.removeprefix("whpk_")))
    message = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + signed
    for entry in headers["webhook-signature"].split(" "):
        version, _, value = entry.partition(",")
        if version != "v1a":
            continue
        try:
            verify_key.verify(message, base64.b64decode(value))
        except BadSignatureError:
            continue
        return True
    return False


def _lower(headers: dict) -> dict:
    return {name.lower(): value for name, value in headers.items()}


def _versions(headers: dict) -> list[str]:
    return [entry.partition(",")[0] for entry in _lower(headers)["webhook-signature"].split(" ")]


def v1a_profile(account, receiver, **fields) -> CallbackProfile:
    fields.setdefault("sign_standard_webhooks", False)
    return profile_for(account, receiver, sign_v1a=True, signing_private_key=signing_key_generate(), **fields)


# --- the engine, to a real receiver ------------------------------------------------------------------


def test_a_v1a_profile_sends_an_ed25519_signature_that_the_public_key_verifies(account, receiver):
    # given a profile that signs with v1a only
    profile = v1a_profile(account, receiver)
    public_key, _ = profile_public_keys(profile)
    # when an event goes out
    request, _ = send_one(account, receiver, {"status": "delivered"})
    headers = _lower(request.headers)
    # then webhook-signature holds one v1a entry, which libsodium verifies with the public key alone
    assert _versions(request.headers) == ["v1a"]
    assert v1a_verifies(public_key, headers, request.body)
    # and a changed body, id or another key's public key does not verify
    assert not v1a_verifies(public_key, headers, request.body + b" ")
    assert not v1a_verifies(public_key, {**headers, "webhook-id": "other"}, request.body)
    other_key, _ = profile_public_keys(CallbackProfile(signing_private_key=signing_key_generate()))
    assert not v1a_verifies(other_key, headers, request.body)


def test_v1_and_v1a_together_each_verify_with_its_own_library(account, receiver):
    # given a profile that signs with both schemes
    profile = v1a_profile(account, receiver, sign_standard_webhooks=True, signing_secret=SECRET)
    public_key, _ = profile_public_keys(profile)
    # when an event goes out
    request, _ = send_one(account, receiver, {"status": "sent"})
    # then the header holds v1 and v1a, space-separated; the reference library checks v1, libsodium v1a
    assert _versions(request.headers) == ["v1", "v1a"]
    assert Webhook(SECRET).verify(request.body, request.headers)["data"] == {"status": "sent"}
    assert v1a_verifies(public_key, _lower(request.headers), request.body)


def test_a_get_callback_signs_its_request_target_with_v1a(account, receiver):
    # given a GET profile that signs with v1a
    profile = v1a_profile(account, receiver, http_method="GET")
    public_key, _ = profile_public_keys(profile)
    # when an event goes out, its envelope in the query
    request, _ = send_one(account, receiver, {"status": "sent"})
    # then the signature covers the request target (path and query) as it arrived
    assert request.body == b"" and "?" in request.path
    assert v1a_verifies(public_key, _lower(request.headers), request.path.encode())


def test_after_a_rotation_old_and_new_keys_sign_until_the_old_one_expires(account, receiver):
    # given a v1a profile whose key is rotated
    profile = v1a_profile(account, receiver)
    old_key, _ = profile_public_keys(profile)
    new_key = profile_signing_key_rotate(profile=profile)
    _, retired = profile_public_keys(profile)
    assert new_key != old_key and [key for key, _ in retired] == [old_key]
    assert abs(retired[0][1] - (timezone.now() + dt.timedelta(hours=24))) < dt.timedelta(minutes=1)
    # when an event goes out during the overlap
    request, _ = send_one(account, receiver, {"n": 1})
    # then both keys sign it
    assert _versions(request.headers) == ["v1a", "v1a"]
    assert v1a_verifies(old_key, _lower(request.headers), request.body)
    assert v1a_verifies(new_key, _lower(request.headers), request.body)
    # and once the 24 hours are over only the new key signs
    stored = json.loads(CallbackProfile.objects.get(pk=profile.pk).retired_signing_keys)
    CallbackProfile.objects.filter(pk=profile.pk).update(
        retired_signing_keys=json.dumps([[key, time.time() - 1] for key, _ in stored])
    )
    later, _ = send_one(account, receiver, {"n": 2})
    assert _versions(later.headers) == ["v1a"]
    assert v1a_verifies(new_key, _lower(later.headers), later.body)
    assert not v1a_verifies(old_key, _lower(later.headers), later.body)


def test_the_private_key_is_encrypted_at_rest(account, receiver):
    profile = v1a_profile(account, receiver)
    raw = profile.signing_private_key.removeprefix("whsk_")
    profile_signing_key_rotate(profile=profile)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT signing_private_key, retired_signing_keys FROM callbacks_callbackprofile WHERE id = %s",
            [profile.pk.hex if connection.vendor == "sqlite" else profile.pk],
        )
        current, retired = cursor.fetchone()
    assert current.startswith("fernet:") and retired.startswith("fernet:")
    assert raw not in current and raw not in retired


# --- the API -----------------------------------------------------------------------------------------


def _payload(**overrides) -> dict:
    payload = {"name": "Orders", "url": "http://127.0.0.1:9/hooks", "event_types": [event_types.MESSAGE_STATUS]}
    return {**payload, **overrides}


def _private_key_absent(profile_id: str, *answers) -> None:
    profile = CallbackProfile.objects.get(pk=profile_id)
    secrets = [profile.signing_private_key] + [key for key, _ in json.loads(profile.retired_signing_keys or "[]")]
    for answer in answers:
        text = json.dumps(answer)
        for secret in secrets:
            assert secret.removeprefix("whsk_") not in text


def test_the_api_creates_a_v1a_profile_and_shows_its_public_key_never_the_private_one(api):
    # when a profile is created to sign with v1a only
    response = api.post(PROFILES, _payload(sign_standard_webhooks=False, sign_v1a=True), format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    # then the answer shows the public key in Standard Webhooks form, and no HMAC secret
    public_key = created["signing_public_key"]
    assert created["sign_v1a"] is True and created["sign_standard_webhooks"] is False
    assert public_key.startswith("whpk_") and len(base64.b64decode(public_key[5:])) == 32
    assert created["signing_secret"] is None and created["previous_signing_public_keys"] == []
    assert "signing_private_key" not in created and "retired_signing_keys" not in created
    # and reading it or listing shows the same public key, never the private key
    read = api.get(f"{PROFILES}{created['id']}/").json()
    listed = api.get(PROFILES).json()
    assert read["signing_public_key"] == public_key
    _private_key_absent(created["id"], created, read, listed)
    # and the public key is that of the stored private key
    assert profile_public_keys(CallbackProfile.objects.get(pk=created["id"]))[0] == public_key


def test_the_api_rotates_the_key_and_keeps_the_old_one_signing_for_a_day(api):
    created = api.post(PROFILES, _payload(sign_v1a=True), format="json").json()
    old_key = created["signing_public_key"]
    # when the key is rotated
    response = api.post(f"{PROFILES}{created['id']}/rotate-signing-key/")
    assert response.status_code == 200, response.json()
    rotated = response.json()
    # then the answer names the new public key and the old one with its 24-hour end
    assert rotated["signing_public_key"].startswith("whpk_") and rotated["signing_public_key"] != old_key
    [previous] = rotated["previous_signing_public_keys"]
    assert previous["public_key"] == old_key
    expires = dt.datetime.fromisoformat(previous["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - (timezone.now() + dt.timedelta(hours=24))) < dt.timedelta(minutes=1)
    # and the profile reads the same; no answer carries a private key; v1 is untouched
    read = api.get(f"{PROFILES}{created['id']}/").json()
    assert read["signing_public_key"] == rotated["signing_public_key"]
    assert read["previous_signing_public_keys"] == rotated["previous_signing_public_keys"]
    assert read["signing_secret_set"] is True
    _private_key_absent(created["id"], created, rotated, read)


def test_turning_v1a_on_later_generates_a_key_and_off_keeps_it(api):
    created = api.post(PROFILES, _payload(), format="json").json()
    assert created["sign_v1a"] is False and created["signing_public_key"] is None
    turned_on = api.patch(f"{PROFILES}{created['id']}/", {"sign_v1a": True}, format="json").json()
    assert turned_on["signing_public_key"].startswith("whpk_")
    turned_off = api.patch(f"{PROFILES}{created['id']}/", {"sign_v1a": False}, format="json").json()
    assert turned_off["signing_public_key"] == turned_on["signing_public_key"]


def test_the_api_refuses_no_signing_at_all_and_rotating_a_key_not_in_use(api):
    # a profile must sign some way
    response = api.post(PROFILES, _payload(sign_standard_webhooks=False, sign_v1a=False), format="json")
    assert response.status_code == 400 and "sign_standard_webhooks" in response.json()
    # rotating the v1a key of a profile that does not sign with v1a is refused, naming the field
    created = api.post(PROFILES, _payload(), format="json").json()
    refused = api.post(f"{PROFILES}{created['id']}/rotate-signing-key/")
    assert refused.status_code == 400 and "sign_v1a" in refused.json()
    assert api.post(PROFILES, _payload(sign_v1a="maybe"), format="json").status_code == 400


def test_another_accounts_profile_key_cannot_be_rotated(api, other_api):
    created = other_api.post(PROFILES, _payload(sign_v1a=True), format="json").json()
    assert api.post(f"{PROFILES}{created['id']}/rotate-signing-key/").status_code == 404
    assert other_api.get(f"{PROFILES}{created['id']}/").json()["signing_public_key"] == created["signing_public_key"]


# --- the change page, for who may and may not change ----------------------------------------------


def _client(account, role) -> Client:
    """Signed in through the login page, as the sign-in lockout (which reads the request) expects."""
    client = Client()
    user = MembershipFactory(account=account, role=role).user
    answer = client.post(reverse("admin:login"), {"username": user.username, "password": PASSWORD})
    assert answer.status_code == 302, answer.content
    return client


def test_a_viewer_sees_the_public_key_but_cannot_rotate_it(account, receiver):
    profile = v1a_profile(account, receiver)
    public_key, _ = profile_public_keys(profile)
    viewer = _client(account, Membership.Role.VIEWER)
    change = reverse("admin:callbacks_callbackprofile_change", args=[profile.pk])
    page = viewer.get(change).content.decode()
    assert public_key in page and "Rotate key" not in page
    assert profile.signing_private_key.removeprefix("whsk_") not in page
    viewer.post(reverse("admin:callbacks_callbackprofile_rotate_key", args=[profile.pk]))
    assert CallbackProfile.objects.get(pk=profile.pk).signing_private_key == profile.signing_private_key


def test_an_owner_rotates_from_the_page_and_another_account_gets_404(account, other_account, receiver):
    profile = v1a_profile(account, receiver)
    rotate = reverse("admin:callbacks_callbackprofile_rotate_key", args=[profile.pk])
    assert _client(other_account, Membership.Role.OWNER).post(rotate).status_code == 404
    assert CallbackProfile.objects.get(pk=profile.pk).signing_private_key == profile.signing_private_key
    answer = _client(account, Membership.Role.OWNER).post(rotate)
    assert answer.status_code == 302
    assert CallbackProfile.objects.get(pk=profile.pk).signing_private_key != profile.signing_private_key
