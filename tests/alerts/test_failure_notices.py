"""Failure notices: each failure class with its fields, masked URLs, flood control, abnormal and recovered."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail

from alerts.models import FailureNoticeState
from alerts.services.failure_notices import failure_digests_flush
from callbacks import clock, event_types, signals
from callbacks.models import Attempt, CallbackProfile, Delivery, Event
from tests.factories import CallbackProfileFactory
from tests.metrics_helpers import metric_value

pytestmark = pytest.mark.django_db

SECRET_URL = "http://hook-user:hunter2@127.0.0.1:9/hooks/otp?token=abc123&region=eu"
MASKED_URL = "http://hook-user:****@127.0.0.1:9/hooks/otp?token=****&region=eu"
PAYLOAD = {
    "message_id": "msg_01JD6Z8Q2V7M3K",
    "resource": "/v1/messages/msg_01JD6Z8Q2V7M3K",
    "name": "Ada Lovelace",
    "phone": "+14155550123",
    "email": "ada@example.com",
    "channel": "sms",
    "content": "Your code is 123456",
}


@pytest.fixture
def profile(account):
    return CallbackProfileFactory(account=account, name="Orders", url=SECRET_URL)


def _fail(profile: CallbackProfile, *, status: int | None, failure_class: str, body: str = "", number: int = 1):
    """Store a failed attempt as the engine would, and announce it."""
    event = Event.objects.create(account=profile.account, type=event_types.MESSAGE_STATUS, payload=PAYLOAD)
    delivery = Delivery.objects.create(
        account=profile.account,
        event=event,
        profile=profile,
        event_type=event.type,
        attempt_count=number,
        last_status_code=status,
        last_error_class=failure_class,
    )
    attempt = Attempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=clock.now(),
        request_method="POST",
        request_url=profile.url,
        response_status=status,
        response_body=body,
        error_class=failure_class if status is None else "",
        error_detail="ReadTimeoutError: read timed out" if failure_class == "response_timeout" else "",
        outcome="retry",
    )
    signals.delivery_failed.send(sender=Delivery, delivery=delivery, attempt=attempt, failure_class=failure_class)
    return delivery


def _text_and_html(message) -> tuple[str, str]:
    html = next(content for content, mimetype in message.alternatives if mimetype == "text/html")
    return message.body, html


@pytest.mark.parametrize(
    ("status", "failure_class", "body", "subject_part", "says"),
    [
        (500, "http_status", "Internal Server Error: db down", "HTTP 500", "answered with a non-2xx status"),
        (401, "http_status", '{"error": "bad credentials"}', "HTTP 401", "refused the authorization (401 / 403)"),
        (403, "http_status", "Forbidden", "HTTP 403", "refused the authorization (401 / 403)"),
        (None, "connect_timeout", "", "could not be connected to within 5 seconds", "could not be connected to"),
        (None, "connect_refused", "", "could not be connected to within 5 seconds", "could not be connected to"),
        (None, "response_timeout", "", "did not answer within 60 seconds", "did not answer within 60 seconds"),
    ],
)
def test_each_failure_class_gets_a_notice_with_its_fields(
    profile, tasks_inline, django_capture_on_commit_callbacks, status, failure_class, body, subject_part, says
):
    # when a callback fails
    with django_capture_on_commit_callbacks(execute=True):
        delivery = _fail(profile, status=status, failure_class=failure_class, body=body)
    # then one notice goes to the account's admin e-mail, in text and HTML, with every field
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [profile.account.admin_email]
    assert subject_part in message.subject
    assert "Orders" in message.subject
    for part in _text_and_html(message):
        assert str(delivery.pk) in part
        assert says in part
        assert MASKED_URL.replace("&", "&amp;") in part or MASKED_URL in part
        assert "hunter2" not in part
        assert "abc123" not in part
        for value in PAYLOAD.values():
            if value != PAYLOAD["message_id"]:
                assert value in part
        assert "What to do" in part
        if status:
            assert f"HTTP {status}" in part
        if body:
            assert body.split(":")[0].replace('"', "&quot;") in part or body.split(":")[0] in part
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", message.body)


def test_the_profiles_own_addresses_receive_the_notice(account, tasks_inline, django_capture_on_commit_callbacks):
    profile = CallbackProfileFactory(account=account, failure_notice_emails=["dev@acme.test", "oncall@acme.test"])
    with django_capture_on_commit_callbacks(execute=True):
        _fail(profile, status=502, failure_class="http_status")
    assert mail.outbox[0].to == ["dev@acme.test", "oncall@acme.test"]


def test_a_thousand_failures_make_a_handful_of_emails(profile, tasks_inline, django_capture_on_commit_callbacks):
    # given an endpoint failing 1,000 times within two hours, in three ways
    sent_before = {
        kind: metric_value("callbacks_failure_notices_sent_total", kind=kind) for kind in ("first", "digest")
    }
    start = clock.now()
    with django_capture_on_commit_callbacks(execute=True):
        for number in range(1000):
            clock.reset()
            clock.advance(seconds=(start - clock.now()).total_seconds() + number * 7)  # 1000 × 7 s ≈ 1 h 57 min
            kind = ("http_status", 500) if number % 2 else ("connect_timeout", None)
            if number % 10 == 3:
                kind = ("http_status", 401)
            _fail(profile, status=kind[1], failure_class=kind[0])
            # the per-minute schedule runs along
            if number % 9 == 0:
                failure_digests_flush()
    # then the first failure was told at once and the rest in at most one digest per hour
    subjects = [message.subject for message in mail.outbox]
    assert len(subjects) == 2, subjects
    assert "failed" in subjects[0]
    assert subjects[1].endswith("callback failures for “Orders” in the last hour")
    # when the last hour's failures are flushed after the hour
    clock.advance(seconds=3600)
    with django_capture_on_commit_callbacks(execute=True):
        failure_digests_flush()
    assert len(mail.outbox) == 3
    # and every failure is counted exactly once, per class
    counted = 0
    for message in mail.outbox[1:]:
        counted += int(re.match(r"\[Callback Center\] (\d+) callback failures", message.subject).group(1))
        assert "answered with a non-2xx status" in message.body
        assert "refused the authorization" in message.body
        assert "could not be connected to" in message.body
    assert counted == 999
    # and the metrics count the notices as sent: the first, then the digests
    assert metric_value("callbacks_failure_notices_sent_total", kind="first") - sent_before["first"] == 1
    assert metric_value("callbacks_failure_notices_sent_total", kind="digest") - sent_before["digest"] == 2


def test_a_digest_lists_counts_per_class(profile, tasks_inline, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _fail(profile, status=500, failure_class="http_status")
        for _ in range(3):
            _fail(profile, status=503, failure_class="http_status")
        for _ in range(2):
            _fail(profile, status=None, failure_class="response_timeout")
        clock.advance(seconds=3600)
        failure_digests_flush()
    digest = mail.outbox[-1]
    assert digest.subject == "[Callback Center] 5 callback failures for “Orders” in the last hour"
    assert "3 × the endpoint answered with a non-2xx status" in digest.body
    assert "2 × the endpoint did not answer within 60 seconds" in digest.body
    assert MASKED_URL in digest.body
    assert "hunter2" not in digest.body + _text_and_html(digest)[1]


def test_no_digest_before_the_hour(profile, tasks_inline, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _fail(profile, status=500, failure_class="http_status")
        _fail(profile, status=500, failure_class="http_status")
        clock.advance(seconds=59 * 60)
        assert failure_digests_flush() == 0
    assert len(mail.outbox) == 1


def test_a_new_streak_after_a_success_is_told_at_once_when_the_hour_has_passed(
    profile, tasks_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _fail(profile, status=500, failure_class="http_status")
        clock.advance(seconds=2 * 3600)
        CallbackProfile.objects.filter(pk=profile.pk).update(last_success_at=clock.now())
        clock.advance(seconds=60)
        _fail(profile, status=404, failure_class="http_status")
    assert len(mail.outbox) == 2
    assert "HTTP 404" in mail.outbox[1].subject
    assert FailureNoticeState.objects.get(profile=profile).notices_sent == 2


def test_a_flapping_endpoint_is_not_told_more_than_hourly(profile, tasks_inline, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            _fail(profile, status=500, failure_class="http_status")
            clock.advance(seconds=60)
            CallbackProfile.objects.filter(pk=profile.pk).update(last_success_at=clock.now())
            clock.advance(seconds=60)
    assert len(mail.outbox) == 1
    assert FailureNoticeState.objects.get(profile=profile).pending_counts == {"http_status": 4}


def test_abnormal_and_recovered_notices(profile, tasks_inline, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _fail(profile, status=500, failure_class="http_status")
        CallbackProfile.objects.filter(pk=profile.pk).update(status="abnormal", abnormal_since=clock.now())
        profile.refresh_from_db()
        signals.endpoint_disabled.send(sender=CallbackProfile, profile=profile, reason="failing since 09:00 UTC")
    disabled = mail.outbox[-1]
    assert disabled.subject == "[Callback Center] Callback profile “Orders” disabled: it kept failing"
    assert "it will no longer be called" in disabled.body
    assert "failing since 09:00 UTC" in disabled.body
    assert MASKED_URL in disabled.body

    with django_capture_on_commit_callbacks(execute=True):
        CallbackProfile.objects.filter(pk=profile.pk).update(status="enabled", last_success_at=clock.now())
        signals.endpoint_recovered.send(sender=CallbackProfile, profile=profile)
    recovered = mail.outbox[-1]
    assert recovered.subject == "[Callback Center] Callback profile “Orders” recovered"
    assert "is called again" in recovered.body
    assert "is called again" in _text_and_html(recovered)[1]
    assert FailureNoticeState.objects.get(profile=profile).streak_started_at is None


def test_the_signal_receiver_only_records_and_queues(profile, django_capture_on_commit_callbacks):
    # given no worker runs (tasks stay queued)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        _fail(profile, status=500, failure_class="http_status")
    # then nothing was sent from the dispatcher's thread; one task waits for the commit
    assert mail.outbox == []
    assert len(queued) == 1
    assert FailureNoticeState.objects.get(profile=profile).last_notice_at is not None


def test_the_html_part_escapes_what_the_endpoint_answered(profile, tasks_inline, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _fail(profile, status=500, failure_class="http_status", body="<script>alert('x')</script>")
    text, html = _text_and_html(mail.outbox[0])
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<script>alert('x')</script>" in text


def test_a_notice_links_to_its_delivery_and_aligns_its_fields(
    profile, tasks_inline, django_capture_on_commit_callbacks
):
    # when a callback fails with HTTP 500 as the engine records it
    with django_capture_on_commit_callbacks(execute=True):
        delivery = _fail(profile, status=500, failure_class="http_status", body="down")
        Attempt.objects.filter(delivery=delivery).update(error_class="http_500")
    # then the notice links to that delivery in the delivery log, says the status once and lines up its fields
    text, html = _text_and_html(mail.outbox[0])
    link = f"{settings.SITE_URL}/admin/callbacks/delivery/{delivery.pk}/change/"
    assert link in text
    assert f'href="{link}"' in html
    assert "Response:    HTTP 500\n" in text
    assert "Mobile:      +14155550123\n" in text
    assert "Channel:     sms\n" in text


def test_the_other_notices_link_to_their_screens(profile, tasks_inline, django_capture_on_commit_callbacks):
    # when a digest and an abnormal notice are sent
    from alerts.services.notice_sending import failure_digest_send, profile_abnormal_notice_send

    failure_digest_send(
        profile=profile, counts={"http_status": 3}, since=clock.now(), until=clock.now(), last_attempt=None
    )
    profile_abnormal_notice_send(profile=profile, reason="failing for 5 days")
    # then the digest opens the profile's deliveries and the abnormal notice the profile's settings
    digest, abnormal = mail.outbox
    assert f"{settings.SITE_URL}/admin/callbacks/delivery/?profile={profile.pk}" in digest.body
    assert f"{settings.SITE_URL}/admin/callbacks/callbackprofile/{profile.pk}/change/" in abnormal.body
