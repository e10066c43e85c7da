"""Failure notices end to end: the delivery engine calls real receivers on 127.0.0.1 that fail."""

from __future__ import annotations

import pytest
from django.core import mail

from callbacks import clock, event_types
from callbacks.delivery.engine import DEFAULT_LEASE_S as LEASE_S
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import CallbackProfile, Delivery
from callbacks.services.connectivity import profile_recover
from callbacks.services.events import event_emit
from tests.factories import CallbackProfileFactory
from tests.receivers import Reply

pytestmark = pytest.mark.django_db

ORDER = {"name": "Ada Lovelace", "phone": "+14155550123", "channel": "sms", "content": "Parcel shipped"}


def _profile(account, url: str, **fields) -> CallbackProfile:
    profile = CallbackProfileFactory(account=account, name="Orders", url=url, **fields)
    profile.event_types.set([event_types.MESSAGE_STATUS])
    return profile


def _dispatch(capture) -> None:
    """Run the engine until every delivery was tried once (at most ten leases of waiting)."""
    with capture(execute=True):
        for _ in range(10):
            while dispatch_batch(worker_id="alerts-test"):
                pass
            if not Delivery.objects.filter(state=Delivery.State.PENDING, attempt_count=0).exists():
                return
            # What a busy profile could not take now is put back until its lease ends.
            clock.advance(seconds=LEASE_S + 1)


@pytest.mark.parametrize(
    ("reply", "subject_end", "says"),
    [
        (Reply(status=500, body="upstream exploded"), "failed: HTTP 500", "answered with a non-2xx status"),
        (Reply(status=401, body="who are you"), "failed: HTTP 401", "refused the authorization (401 / 403)"),
        (Reply(status=403, body="not you"), "failed: HTTP 403", "refused the authorization (401 / 403)"),
    ],
)
def test_an_http_failure_from_the_engine_sends_its_notice(
    account, receiver, tasks_inline, django_capture_on_commit_callbacks, reply, subject_end, says
):
    # given a profile whose endpoint answers with an error
    profile = _profile(account, receiver.url("/hooks?api_key=s3cret"))
    receiver.respond_with(status=reply.status, body=reply.body)
    event = event_emit(account=account, type=event_types.MESSAGE_STATUS, data=ORDER)
    # when the engine delivers
    _dispatch(django_capture_on_commit_callbacks)
    # then one notice names the callback, the answer and the event's fields, with the key masked
    assert len(mail.outbox) == 1
    notice = mail.outbox[0]
    assert notice.subject.endswith(subject_end)
    delivery = Delivery.objects.get(event=event, profile=profile)
    assert str(delivery.pk) in notice.body
    assert says in notice.body
    assert reply.body in notice.body
    assert "api_key=****" in notice.body
    assert "s3cret" not in notice.body
    assert "Ada Lovelace" in notice.body and "+14155550123" in notice.body and "Parcel shipped" in notice.body


def test_no_connection_sends_its_notice(account, tasks_inline, django_capture_on_commit_callbacks):
    # given a profile whose port nobody listens on
    _profile(account, "http://127.0.0.1:9/hooks")
    event_emit(account=account, type=event_types.MESSAGE_STATUS, data=ORDER)
    _dispatch(django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    assert "could not be connected to within 5 seconds" in mail.outbox[0].subject
    assert "no response" in mail.outbox[0].body


def test_no_answer_in_time_sends_its_notice(account, receiver, tasks_inline, django_capture_on_commit_callbacks):
    # given an endpoint that never answers, and a short response timeout to keep the test quick
    _profile(account, receiver.url("/slow"), response_timeout_s=0.3)
    receiver.respond_with(hang=True)
    event_emit(account=account, type=event_types.MESSAGE_STATUS, data=ORDER)
    _dispatch(django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    assert "did not answer within 60 seconds" in mail.outbox[0].subject


@pytest.mark.slow
def test_a_thousand_failed_callbacks_make_a_handful_of_emails(
    account, receiver, tasks_inline, django_capture_on_commit_callbacks
):
    # given an endpoint answering 503 to everything, and 1,000 events for it
    _profile(account, receiver.url("/hooks"), retry_schedule_s=[3600 * 24])
    receiver.respond_with(status=503, body="maintenance")
    for number in range(1000):
        event_emit(account=account, type=event_types.MESSAGE_STATUS, data={**ORDER, "n": number})
    # when the engine tries them all, and the hourly digest falls due
    _dispatch(django_capture_on_commit_callbacks)
    assert Delivery.objects.filter(attempt_count=1).count() == 1000
    from alerts.services.failure_notices import failure_digests_flush

    clock.advance(seconds=3601)
    with django_capture_on_commit_callbacks(execute=True):
        failure_digests_flush()
    # then two e-mails: the first failure at once, then the digest counting the other 999
    # (a connection the busy receiver refused counts in its own class, so only the total is fixed)
    assert len(mail.outbox) == 2
    assert mail.outbox[0].subject.startswith("[Callback Center] Callback to “Orders” failed: ")
    assert mail.outbox[1].subject == "[Callback Center] 999 callback failures for “Orders” in the last hour"
    counted = [int(line.split(" × ")[0]) for line in mail.outbox[1].body.splitlines() if " × the endpoint " in line]
    assert sum(counted) == 999
    assert "× the endpoint answered with a non-2xx status" in mail.outbox[1].body


def test_abnormal_and_recovered_notices_from_the_engine(
    account, receiver, settings, tasks_inline, django_capture_on_commit_callbacks
):
    # given a profile turned abnormal after 3 deliveries fail for good
    settings.CALLBACKS_ABNORMAL_AFTER_EXHAUSTED = 3
    profile = _profile(account, receiver.url("/hooks"))
    receiver.respond_with(status=400, body="bad request")
    for _ in range(3):
        event_emit(account=account, type=event_types.MESSAGE_STATUS, data=ORDER)
    _dispatch(django_capture_on_commit_callbacks)
    profile.refresh_from_db()
    assert profile.status == CallbackProfile.Status.ABNORMAL
    assert sorted(m.subject for m in mail.outbox) == [
        "[Callback Center] Callback profile “Orders” disabled: it kept failing",
        "[Callback Center] Callback to “Orders” failed: HTTP 400",
    ]
    # when it answers again and is recovered
    receiver.respond_with(status=200)
    with django_capture_on_commit_callbacks(execute=True):
        assert profile_recover(profile=profile)
    assert mail.outbox[-1].subject == "[Callback Center] Callback profile “Orders” recovered"
    assert len(mail.outbox) == 3  # first failure, abnormal, recovered
