"""Account A's key against every endpoint of the published schema, aimed at account B's objects:
always 404 (never a 403 that confirms the object exists), never B's rows in A's lists, B unchanged.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from callbacks import event_types
from callbacks.models import ApiKey, Attempt, CallbackProfile, Delivery, Event, ReplayJob
from callbacks.services.api_keys import api_key_create
from tests.conftest import api_client_for
from tests.factories import CallbackProfileFactory

METHODS = ("get", "post", "put", "patch", "delete")
PARAMETER = re.compile(r"\{[^}]+\}")


def objects_of(account) -> dict[str, str]:
    """One object of every kind an endpoint can name, all belonging to `account`."""
    profile = CallbackProfileFactory(account=account)
    profile.event_types.set([event_types.MESSAGE_STATUS])
    api_key, _ = api_key_create(account=account, name="theirs")
    event = Event.objects.create(account=account, type=event_types.MESSAGE_STATUS, payload={"phone": "+6591234567"})
    delivery = Delivery.objects.create(
        account=account, event=event, profile=profile, event_type=event.type, state=Delivery.State.FAILED
    )
    attempt = Attempt.objects.create(
        delivery=delivery, number=1, request_method="POST", request_url=profile.url, outcome="failed"
    )
    replay_job = ReplayJob.objects.create(
        account=account, profile=profile, state="failed", until=timezone.now(), total=1
    )
    objects = {
        "profile": profile.pk,
        "api_key": api_key.pk,
        "event": event.pk,
        "delivery": delivery.pk,
        "attempt": attempt.pk,
        "replay_job": replay_job.pk,
    }
    try:
        from alerts.models import Alert

        objects["alert"] = Alert.objects.create(
            account=account, kind=Alert.Kind.BALANCE_LOW, value=1, threshold=5, message="Balance low"
        ).pk
    except ImportError:
        pass
    try:
        from reports.models import Report

        now = timezone.now()
        objects["report"] = Report.objects.create(
            account=account,
            frequency=Report._meta.get_field("frequency").choices[0][0],
            period_start=now - timedelta(days=1),
            period_end=now,
            timezone="UTC",
        ).pk
    except ImportError:
        pass
    return {name: str(value) for name, value in objects.items()}


def schema_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [(path, method) for path, item in schema["paths"].items() for method in METHODS if method in item]


def call(client, method: str, url: str):
    if method in ("get", "delete"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, {}, format="json")


@pytest.mark.django_db
def test_no_endpoint_lets_one_account_reach_another_accounts_objects(account, other_account):
    # given account B with one object of every kind, and a read-write key of account A
    theirs = objects_of(other_account)
    mine = api_client_for(account)
    owner = api_client_for(other_account, scopes=("read",))
    operations = schema_operations()
    detail = [(path, method) for path, method in operations if PARAMETER.search(path)]
    assert detail, "the schema lists no endpoint that names an object"
    leaks, uncovered = [], []
    for path, method in detail:
        reachable_by_owner = False
        for name, object_id in theirs.items():
            url = PARAMETER.sub(object_id, path)
            # when A's key aims at B's object with this method
            response = call(mine, method, url)
            # then the answer is 404, as if it did not exist
            if response.status_code != 404:
                leaks.append(f"{method.upper()} {path} with B's {name}: {response.status_code}")
            if method == "get" and owner.get(url).status_code == 200:
                reachable_by_owner = True
        if method == "get" and not reachable_by_owner:
            uncovered.append(path)
    assert leaks == []
    # and the check covered every path: B's own key reads B's object there (so a leak would show)
    assert uncovered == [], f"no object of B to aim at for {uncovered}: add one to objects_of()"
    # and B's objects are untouched after A's writes and deletes
    profile = CallbackProfile.objects.get(pk=theirs["profile"])
    assert profile.signing_secret == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert profile.previous_signing_secret == ""
    assert ApiKey.objects.get(pk=theirs["api_key"]).revoked_at is None


@pytest.mark.django_db
def test_no_list_shows_another_accounts_rows_whatever_the_filters(account, other_account):
    # given B's objects and A's key
    theirs = objects_of(other_account)
    mine = api_client_for(account)
    filters = "&".join(f"{name}={object_id}" for name, object_id in theirs.items())
    lists = [path for path, method in schema_operations() if method == "get" and not PARAMETER.search(path)]
    for path in lists:
        for url in (path, f"{path}?{filters}", f"{path}?profile={theirs['profile']}&event={theirs['event']}"):
            # when A reads any list, even filtered by B's ids
            response = mine.get(url)
            # then nothing of B's shows
            assert response.status_code in (200, 400, 404), (url, response.status_code)
            shown = [name for name, object_id in theirs.items() if object_id in response.content.decode()]
            assert shown == [], f"{url} shows B's {shown}"


@pytest.mark.django_db
def test_a_guessed_or_revoked_key_gets_nothing(account, other_account):
    # given B's objects, a revoked key of B and a key of A with a wrong secret
    theirs = objects_of(other_account)
    api_key, raw_key = api_key_create(account=other_account)
    api_key.revoked_at = timezone.now()
    api_key.save()
    _, valid = api_key_create(account=account)
    guessed = valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB")
    for key in (raw_key, guessed, "", "Bearer", valid.split("_")[0] + "_" + valid.split("_")[1]):
        client = api_client_for(account)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        # when either key asks for B's profile / then it is refused without a hint
        response = client.get(f"/api/v1/callback-profiles/{theirs['profile']}/")
        assert response.status_code in (401, 403, 429), (key, response.status_code)
        assert theirs["profile"] not in response.content.decode()
