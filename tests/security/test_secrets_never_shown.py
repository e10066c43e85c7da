"""A profile's secrets go out to its endpoint and nowhere else: not in logs, attempts, API answers,
failure e-mails or the admin, in clear or in the Basic-auth base64 form."""

from __future__ import annotations

import base64
import logging

import pytest
from django.core import mail
from django.urls import NoReverseMatch, reverse

from alerts import failure_classes
from alerts.tasks import failure_notice_send
from callbacks import event_types
from callbacks.delivery.engine import dispatch_run
from callbacks.models import Attempt, Delivery
from callbacks.services.events import event_emit
from callbacks.services.profiles import profile_create
from tests.conftest import api_client_for
from tests.factories import UserFactory
from tests.receivers import Reply

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Zq81-never-shown"
AUTHORIZATION = "Token tk-Hh27-never-shown"
SALT = "salt-Mm54-never-shown"
AES_KEY = "aes-key-Pp93-never-shown-32chars"
PLATFORM_KEY = "platform-Kk66-never-shown"


def secrets_of(profiles) -> dict[str, str]:
    found = {
        "password": PASSWORD,
        "basic": base64.b64encode(f"ops:{PASSWORD}".encode()).decode(),
        "authorization": AUTHORIZATION.split(" ", 1)[1],
        "salt": SALT,
        "aes_key": AES_KEY,
        "platform_key": PLATFORM_KEY,
    }
    for profile in profiles:
        found[f"signing_secret_{profile.name}"] = profile.signing_secret.removeprefix("whsec_")
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, secret in secrets.items() if secret in text]


def test_secrets_appear_nowhere_but_on_the_wire(account, receiver, caplog):
    # given two profiles holding every kind of secret, one of them failing
    account.platform_api_key = PLATFORM_KEY
    account.save()
    common = {
        "url": receiver.url("/hooks"),
        "event_types": [event_types.MESSAGE_STATUS],
        "sign_md5": True,
        "md5_salt": SALT,
        "encryption_cipher": "aes-256-gcm",
        "encryption_key": AES_KEY,
        "encryption_fields": ["phone"],
    }
    basic = profile_create(account=account, name="basic", auth_username="ops", auth_password=PASSWORD, **common)
    literal = profile_create(account=account, name="literal", auth_header=AUTHORIZATION, **common)
    secrets = secrets_of([basic, literal])
    receiver.respond_by(lambda request: Reply(status=500 if request.header("authorization") == AUTHORIZATION else 200))
    caplog.set_level(logging.DEBUG)
    event = event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"phone": "+6591234567"})
    # when the engine delivers (the literal-auth profile's answer is a 500: a failure notice goes out)
    dispatch_run(worker_id="secrets", linger_s=0)
    requests = receiver.wait_for(2)
    # then the secrets did go out on the wire, where they belong
    assert {request.header("authorization") for request in requests} == {f"Basic {secrets['basic']}", AUTHORIZATION}
    # and nowhere else: not in the log records (messages and structured fields)
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert leaks(logged, secrets) == []
    # nor in the attempts as stored
    attempts = list(Attempt.objects.filter(delivery__event=event).values())
    assert len(attempts) >= 2  # the failing one is retried at once (the first retry is immediate)
    assert leaks(repr(attempts), secrets) == []
    # nor in any API answer about profiles, events and deliveries
    api = api_client_for(account)
    delivery_ids = list(Delivery.objects.filter(event=event).values_list("pk", flat=True))
    urls = ["/api/v1/callback-profiles/", f"/api/v1/events/{event.pk}/", "/api/v1/deliveries/"]
    urls += [f"/api/v1/callback-profiles/{profile.pk}/" for profile in (basic, literal)]
    urls += [f"/api/v1/deliveries/{delivery_id}/" for delivery_id in delivery_ids]
    urls += ["/api/v1/account/"]
    for url in urls:
        response = api.get(url)
        assert response.status_code == 200, url
        assert leaks(response.content.decode(), secrets) == [], url
    # nor in the failure notice e-mailed about it (the queued task, run here)
    failed = Attempt.objects.filter(delivery__event=event, delivery__profile=literal).order_by("number").last()
    failure_notice_send(str(failed.delivery_id), str(failed.pk), failure_classes.HTTP_STATUS)
    assert mail.outbox, "the failure notice should have been sent"
    for message in mail.outbox:
        text = message.subject + message.body + "".join(str(part[0]) for part in getattr(message, "alternatives", []))
        assert leaks(text, secrets) == [], message.subject
    # nor on the admin pages of these rows
    admin = UserFactory(is_superuser=True)
    client = api_client_for(account)
    client.force_login(admin)
    pages = [
        ("callbacks_callbackprofile_changelist", []),
        ("callbacks_callbackprofile_change", [basic.pk]),
        ("callbacks_callbackprofile_change", [literal.pk]),
        ("callbacks_delivery_changelist", []),
        ("callbacks_delivery_change", [delivery_ids[0]]),
        ("callbacks_account_change", [account.pk]),
    ]
    checked = 0
    for name, arguments in pages:
        try:
            url = reverse(f"admin:{name}", args=arguments)
        except NoReverseMatch:
            continue
        checked += 1
        response = client.get(url)
        assert response.status_code in (200, 302), (url, response.status_code)
        assert leaks(response.content.decode(), secrets) == [], url
    assert checked >= 3, "the admin pages of profiles and deliveries should exist"
