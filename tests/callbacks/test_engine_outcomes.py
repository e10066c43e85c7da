"""Each outcome class against a real receiver, and the retry schedule on a controllable clock."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.db.models import Sum

from callbacks import clock, event_types, signals
from callbacks.delivery.engine import dispatch_batch
from callbacks.delivery.record import outcomes
from callbacks.delivery.send.transport import TransportResult
from callbacks.models import Attempt, CallbackProfile, Delivery, DeliveryStats, Event
from tests.callbacks.engine_helpers import delivery_of, emit, profile_for
from tests.receivers import Reply, unused_port

pytestmark = pytest.mark.django_db


def _attempt(event: Event) -> Attempt:
    return Attempt.objects.filter(delivery__event=event).order_by("-number").first()


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(account, receiver, status):
    profile_for(account, receiver)
    receiver.respond_with(status=status)
    event = emit(account)
    dispatch_batch(worker_id="test")
    delivery = delivery_of(event)
    assert delivery.state == Delivery.State.DELIVERED and delivery.last_status_code == status
    assert delivery.completed_at is not None


def test_a_binary_answer_with_nul_bytes_is_recorded(account, receiver):
    # given a receiver answering 200 with binary bytes, NUL among them (no text column takes a NUL)
    profile_for(account, receiver)
    receiver.respond_with(status=200, body=b"ok\x00\xff\x00end")

    # when the event goes out
    event = emit(account)
    dispatch_batch(worker_id="test")

    # then the delivery is delivered and its attempt keeps what could be shown of the answer
    assert delivery_of(event).state == Delivery.State.DELIVERED
    assert _attempt(event).response_body == "ok\ufffd\ufffd\ufffdend"


@pytest.mark.parametrize(
    ("code", "state", "error_class"),
    [
        ("000", Delivery.State.DELIVERED, ""),
        ("001", Delivery.State.DELIVERED, ""),
        (0, Delivery.State.DELIVERED, ""),
        ("900", Delivery.State.PENDING, "envelope_900"),
        ("999", Delivery.State.PENDING, "envelope_999"),
        ("901", Delivery.State.FAILED, "envelope_901"),
        ("123", Delivery.State.PENDING, "envelope_invalid"),
    ],
)
def test_the_status_envelope_decides_under_the_envelope_contract(account, receiver, code, state, error_class):
    # given a profile with the envelope contract and a receiver answering 200 with a status code
    profile_for(account, receiver, response_contract=CallbackProfile.ResponseContract.ENVELOPE)
    receiver.respond_with(body={"status_code": code, "status_desc": "x", "error_message": "", "delivery_id": "rcv-42"})

    # when the event goes out
    event = emit(account)
    dispatch_batch(worker_id="test")

    # then the envelope's code decides and the receiver's delivery id is kept
    delivery = delivery_of(event)
    assert delivery.state == state and delivery.last_error_class == error_class
    assert _attempt(event).receiver_delivery_id == "rcv-42"


def test_a_2xx_without_an_envelope_is_retried_under_the_envelope_contract(account, receiver):
    profile_for(account, receiver, response_contract=CallbackProfile.ResponseContract.ENVELOPE)
    receiver.respond_with(body="OK")
    event = emit(account)
    dispatch_batch(worker_id="test")
    assert delivery_of(event).state == Delivery.State.PENDING
    assert delivery_of(event).last_error_class == "envelope_invalid"


@pytest.mark.parametrize("status", [500, 502, 503, 408, 302])
def test_server_errors_timeouts_and_redirects_are_retried_not_followed(account, receiver, status):
    profile_for(account, receiver)
    receiver.respond_with(status=status, headers={"Location": receiver.url("/elsewhere")})
    event = emit(account)
    dispatch_batch(worker_id="test")
    delivery = delivery_of(event)
    assert delivery.state == Delivery.State.PENDING and delivery.last_error_class == f"http_{status}"
    assert [request.url_path for request in receiver.requests] == ["/hooks"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_fail_permanently_at_once(account, receiver, status):
    profile_for(account, receiver)
    receiver.respond_with(status=status)
    event = emit(account)
    dispatch_batch(worker_id="test")
    delivery = delivery_of(event)
    assert delivery.state == Delivery.State.FAILED and delivery.attempt_count == 1
    assert _attempt(event).outcome == "failed"


def test_a_response_timeout_is_retried(account, receiver):
    # given a receiver that never answers and a profile waiting 0.3 s for answers
    profile_for(account, receiver, response_timeout_s=0.3)
    receiver.respond_with(hang=True)
    event = emit(account)
    dispatch_batch(worker_id="test")
    delivery = delivery_of(event)
    assert delivery.state == Delivery.State.PENDING and delivery.last_error_class == "response_timeout"
    assert _attempt(event).response_status is None


def test_a_dropped_connection_is_retried(account, receiver):
    profile_for(account, receiver)
    receiver.respond_with(close=True)
    event = emit(account)
    dispatch_batch(worker_id="test")
    assert delivery_of(event).last_error_class == "connection_closed"


def test_a_refused_connection_is_retried(account):
    profile_for(account, None, url=f"http://127.0.0.1:{unused_port()}/hooks")
    event = emit(account)
    dispatch_batch(worker_id="test")
    delivery = delivery_of(event)
    assert delivery.state == Delivery.State.PENDING and delivery.last_error_class == "connect_refused"


def test_a_connect_timeout_is_retried(account):
    # given a listening socket whose accept queue is full, so new connections are never completed
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        profile_for(account, None, url=f"http://127.0.0.1:{port}/hooks", connect_timeout_s=0.3)
        event = emit(account)
        dispatch_batch(worker_id="test")
        for filler in fillers:
            filler.close()
    assert delivery_of(event).last_error_class in ("connect_timeout", "response_timeout")


def test_a_private_address_is_refused_at_connect_time(account, receiver, settings):
    # given the SSRF guard switched on after the profile was saved
    profile_for(account, receiver)
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = False

    # when the event goes out, the connection is refused before any byte is sent
    event = emit(account)
    dispatch_batch(worker_id="test")
    assert delivery_of(event).last_error_class == "forbidden_address"
    assert receiver.requests == []


def test_the_response_body_is_read_up_to_a_cap(account, receiver):
    profile_for(account, receiver)
    receiver.respond_with(body=b"x" * 200_000)
    event = emit(account)
    dispatch_batch(worker_id="test")
    assert delivery_of(event).state == Delivery.State.DELIVERED
    assert len(_attempt(event).response_body) <= 4096


def test_retries_follow_the_schedule_with_jitter_then_fail(account, receiver):
    # given a profile with a three-step schedule and a receiver that always fails
    profile_for(account, receiver, retry_schedule_s=[10, 100, 1000])
    receiver.respond_with(status=503)
    event = emit(account)

    # when each attempt fails, the next is due after the schedule's delay ± 10 %
    for delay in (10, 100, 1000):
        dispatch_batch(worker_id="test")
        delivery = delivery_of(event)
        assert delivery.state == Delivery.State.PENDING
        wait = (delivery.next_attempt_at - clock.now()).total_seconds()
        assert delay * 0.89 <= wait <= delay * 1.11
        clock.advance(seconds=delay * 0.85)
        assert dispatch_batch(worker_id="test") == 0  # not yet
        clock.advance(seconds=delay * 0.3)

    # then the fourth failure exhausts the schedule
    dispatch_batch(worker_id="test")
    delivery = delivery_of(event)
    assert delivery.state == Delivery.State.FAILED and delivery.attempt_count == 4
    assert len(receiver.requests) == 4
    totals = DeliveryStats.objects.filter(profile__account=account).aggregate(
        failed=Sum("failed"), tries=Sum("attempts")
    )
    assert totals == {"failed": 1, "tries": 4}


def test_the_default_schedule_retries_immediately_first(account, receiver):
    profile_for(account, receiver)
    receiver.respond_next(Reply(status=500))
    event = emit(account)
    dispatch_batch(worker_id="test")
    assert dispatch_batch(worker_id="test") == 1
    assert delivery_of(event).state == Delivery.State.DELIVERED


@pytest.mark.parametrize(("retry_after", "expected_s"), [("120", 120), ("999999", 3600)])
def test_retry_after_is_honoured_within_bounds(account, receiver, retry_after, expected_s):
    # given a receiver answering 429 with Retry-After and a schedule that would retry at once
    profile_for(account, receiver, retry_schedule_s=[0, 0])
    receiver.respond_with(status=429, headers={"Retry-After": retry_after})
    event = emit(account)
    dispatch_batch(worker_id="test")

    # then the next attempt waits what the receiver asked, up to the bound (one hour)
    wait = (delivery_of(event).next_attempt_at - clock.now()).total_seconds()
    assert expected_s - 2 <= wait <= expected_s + 1
    assert delivery_of(event).last_error_class == "http_429"


def test_retry_after_as_an_http_date_is_understood():
    now = clock.now().replace(microsecond=0)
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert outcomes.retry_after_parse(later, now=now) == pytest.approx(90, abs=1)
    assert outcomes.retry_after_parse("soon", now=now) is None


def test_410_disables_the_profile_holds_its_deliveries_and_announces_it(account, receiver):
    # given a profile with two pending events and an operational subscriber of profile events
    profile = profile_for(account, receiver)
    watcher = profile_for(account, None, event_types.CALLBACK_PROFILE_DISABLED, url="http://127.0.0.1:9/watch")
    receiver.respond_with(status=410)
    disabled = []
    signals.endpoint_disabled.connect(receiver_fn := lambda sender, profile, reason, **kw: disabled.append(reason))
    try:
        first, second = emit(account), emit(account)
        dispatch_batch(worker_id="test", batch_size=1)
    finally:
        signals.endpoint_disabled.disconnect(receiver_fn)

    # then the profile is abnormal, both deliveries are held (not dropped), and it was announced
    profile.refresh_from_db()
    assert profile.status == CallbackProfile.Status.ABNORMAL and "410" in profile.status_reason
    assert {delivery_of(first).state, delivery_of(second).state} == {Delivery.State.HELD}
    assert disabled and "410" in disabled[0]
    notice = Event.objects.get(type=event_types.CALLBACK_PROFILE_DISABLED)
    assert notice.payload["profile_id"] == str(profile.pk)
    assert Delivery.objects.filter(event=notice, profile=watcher).exists()


def test_delivery_failed_is_sent_for_each_failed_attempt(account, receiver):
    profile_for(account, receiver)
    receiver.respond_with(status=500)
    seen = []

    def listener(sender, delivery, attempt, failure_class, **kwargs):
        seen.append((delivery.pk, attempt.response_status, failure_class))

    signals.delivery_failed.connect(listener)
    try:
        event = emit(account)
        dispatch_batch(worker_id="test")
    finally:
        signals.delivery_failed.disconnect(listener)
    assert seen == [(delivery_of(event).pk, 500, "http_500")]


def test_outcome_classify_prefers_a_transport_error_over_a_partial_answer():
    result = TransportResult(status=200, error_class="response_timeout")
    assert outcomes.outcome_classify(result, envelope_contract=False, now=clock.now()).kind == outcomes.RETRY


def test_a_name_that_rebinds_to_a_private_address_is_refused_when_sending(account, receiver, settings, monkeypatch):
    # given a profile saved with a public-looking name that now resolves to loopback
    profile_for(account, None, url=f"http://hooks.rebind.example:{receiver.port}/hooks")
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = False
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "hooks.rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    # when the event goes out, the connection is refused at connect time and nothing arrives
    event = emit(account)
    dispatch_batch(worker_id="test")
    assert delivery_of(event).last_error_class == "forbidden_address"
    assert receiver.requests == []
