"""Stopping promptly: a dispatcher asked to stop sends nothing more, lets what is in flight answer,
hands back what it has not sent; and a delivery whose worker died is logged with the send it lost."""

from __future__ import annotations

import threading
import time

import pytest

from callbacks import clock
from callbacks.delivery import stopping, wake
from callbacks.delivery.engine import dispatch_run
from callbacks.models import Attempt, Delivery
from tests.callbacks.engine_helpers import emit, profile_for
from tests.receivers import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def _stop_when(condition, timeout_s: float = 20) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        stopping.stop_request()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def _stopped_run(account, receiver, *, reply: Reply, max_in_flight: int, events: int, stop_after: int) -> float:
    """Deliveries to a scripted receiver, a stop asked for once `stop_after` requests arrived; the run's seconds."""
    receiver.respond_with(reply)
    profile_for(account, receiver, max_in_flight=max_in_flight)
    for number in range(events):
        emit(account, {"n": number})
    _stop_when(lambda: len(receiver.requests) >= stop_after)
    started = time.monotonic()
    result = dispatch_run(worker_id="stopping", budget_s=60, linger_s=0)
    assert result.stopped
    return time.monotonic() - started


def test_a_stopped_dispatcher_finishes_what_is_in_flight_and_hands_back_the_rest(account, receiver, settings):
    # given 30 deliveries to a receiver answering after 0.5 s, 4 requests at a time
    settings.CALLBACKS_STOP_GRACE_S = 10
    # when a stop is asked for once the first 4 requests arrived
    seconds = _stopped_run(account, receiver, reply=Reply(delay_s=0.5), max_in_flight=4, events=30, stop_after=4)

    # then the run ends well within the grace, having sent nothing after the stop
    assert seconds < 8
    sent = {request.header("webhook-id") for request in receiver.requests}
    assert 4 <= len(sent) < 30
    # and every request sent was answered and recorded, one attempt each
    delivered = Delivery.objects.filter(state=Delivery.State.DELIVERED)
    assert {str(pk) for pk in delivered.values_list("pk", flat=True)} == sent
    assert Attempt.objects.count() == len(receiver.requests) == len(sent)
    # and the others are back, due now, no longer leased, untried
    rest = Delivery.objects.exclude(state=Delivery.State.DELIVERED)
    assert rest.count() == 30 - len(sent)
    assert set(rest.values_list("state", "leased_by", "attempt_count")) == {(Delivery.State.PENDING, "", 0)}
    assert not rest.filter(next_attempt_at__gt=clock.now()).exists()
    assert not rest.filter(lease_expires_at__isnull=False).exists()

    # when another worker runs (the stop is over for it)
    stopping.stop_reset()
    receiver.respond_with(Reply())
    dispatch_run(worker_id="next", budget_s=60, linger_s=0)
    # then it delivers the rest at once, none twice
    assert Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == 30
    webhook_ids = [request.header("webhook-id") for request in receiver.requests]
    assert len(webhook_ids) == len(set(webhook_ids)) == 30


def test_a_request_unanswered_within_the_grace_is_logged_with_an_unknown_outcome(account, receiver, settings):
    # given a receiver that never answers and a grace of 2 s
    settings.CALLBACKS_STOP_GRACE_S = 2
    # when a stop is asked for with 2 requests in flight
    seconds = _stopped_run(account, receiver, reply=Reply(hang=True), max_in_flight=2, events=5, stop_after=2)

    # then the run ends within the grace
    assert seconds < 2 + 1
    # and each request sent has one attempt of unknown outcome, its delivery due again at once
    unknown = Attempt.objects.filter(outcome="unknown")
    assert unknown.count() == len(receiver.requests) == 2
    assert set(unknown.values_list("error_class", flat=True)) == {"worker_stopped"}
    tried = Delivery.objects.filter(attempts__isnull=False)
    assert set(tried.values_list("state", "attempt_count", "leased_by")) == {(Delivery.State.PENDING, 1, "")}
    assert not Delivery.objects.filter(next_attempt_at__gt=clock.now()).exists()


def test_a_stop_before_the_run_claims_nothing(account, receiver):
    # given due work and a stop already asked for (a wake that waited in the queue of a stopping cluster)
    profile_for(account, receiver)
    emit(account, {"n": 1})
    stopping.stop_request()

    # when a run starts
    result = dispatch_run(worker_id="late", budget_s=60, linger_s=0)

    # then it claims nothing
    assert result.stopped and result.processed == 0
    assert Delivery.objects.get().leased_by == ""
    assert receiver.requests == []


def test_a_delivery_claimed_again_after_its_lease_ran_out_logs_the_lost_send(account, receiver):
    # given a delivery leased to a worker that died (its lease end is its due time)
    profile_for(account, receiver)
    event = emit(account, {"n": 1})
    Delivery.objects.filter(event=event).update(
        leased_by="dead-worker", lease_expires_at=clock.now(), next_attempt_at=clock.now()
    )

    # when another worker claims it
    dispatch_run(worker_id="next", budget_s=60, linger_s=0)

    # then the send of the dead worker is logged as an attempt of unknown outcome, then the new one
    delivery = Delivery.objects.get(event=event)
    assert delivery.state == Delivery.State.DELIVERED
    attempts = list(delivery.attempts.order_by("number").values_list("number", "outcome", "error_class"))
    assert attempts == [(1, "unknown", "lease_expired"), (2, "delivered", "")]
    assert delivery.attempt_count == 2
    assert receiver.wait_for(1)[0].header("webhook-signature").startswith("v1,")


def test_the_wake_flag_of_a_killed_cluster_blocks_wakes_briefly_and_a_start_clears_it():
    # given a wake flag left set by a cluster killed with its wake-up taken
    assert wake.WAKE_FLAG_TTL_S <= 2
    wake._cache().set(wake.WAKE_QUEUED_KEY, 1, timeout=wake.WAKE_FLAG_TTL_S)
    assert wake.wake_request() is False
    # when a cluster starts, then it queues a wake at once
    assert wake.wake_on_start() is True
