"""Receivers that misbehave (hang, drip byte by byte, answer 10 MB) and a clock that jumps: the caps
hold, the other endpoints are not held up, nothing is lost or sent twice. In-process dispatcher,
real receivers on 127.0.0.1; runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest

from bench.servers import ScriptedReceiver
from callbacks import clock, event_types
from callbacks.delivery.engine import dispatch_run
from callbacks.delivery.send.transport import MAX_RESPONSE_BODY_BYTES
from callbacks.models import Attempt, CallbackProfile, Delivery
from callbacks.services.events import event_emit
from tests.factories import CallbackProfileFactory
from tests.receivers import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RESPONSE_TIMEOUT_S = 1.5
RUN_LIMIT_S = 30


@pytest.fixture(scope="module")
def scripted():
    with ScriptedReceiver() as running:
        yield running


def profile_at(account, url: str, **fields) -> CallbackProfile:
    profile = CallbackProfileFactory(account=account, url=url, **fields)
    profile.event_types.set([event_types.MESSAGE_STATUS])
    return profile


def emit(account, count: int) -> None:
    for number in range(count):
        event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"n": number})


def run_bounded(limit_s: float = RUN_LIMIT_S) -> float:
    """dispatch_run in a thread, given at most `limit_s`; returns the seconds it took."""
    started = time.monotonic()
    runner = threading.Thread(target=dispatch_run, kwargs={"worker_id": "faults", "linger_s": 0, "budget_s": limit_s})
    runner.start()
    runner.join(limit_s + 15)
    assert not runner.is_alive(), f"the dispatcher did not finish within {limit_s + 15} s"
    return time.monotonic() - started


def test_a_hanging_receiver_is_cut_at_its_response_timeout_and_does_not_hold_up_others(account, scripted):
    # given one profile whose receiver never answers and one that answers at once
    scripted.reset()
    hanging = profile_at(account, f"{scripted.url}/hang", response_timeout_s=RESPONSE_TIMEOUT_S, retry_schedule_s=[600])
    fast = profile_at(account, f"{scripted.url}/fast")
    started = time.time()
    emit(account, 20)
    # when the dispatcher runs
    took = run_bounded()
    # then the fast profile's 20 arrived without waiting for the hanging ones
    arrivals = scripted.stats()["arrivals"]
    fast_ids = {str(pk) for pk in Delivery.objects.filter(profile=fast).values_list("pk", flat=True)}
    assert Delivery.objects.filter(profile=fast, state=Delivery.State.DELIVERED).count() == 20
    assert max(arrivals[key][0] for key in fast_ids) - started < RESPONSE_TIMEOUT_S
    # and each hanging attempt ended at the response timeout, to be retried later
    attempts = Attempt.objects.filter(delivery__profile=hanging)
    assert attempts.count() == 20
    assert {attempt.error_class for attempt in attempts} == {"response_timeout"}
    assert max(attempt.duration_ms for attempt in attempts) < (RESPONSE_TIMEOUT_S + 1) * 1000
    assert Delivery.objects.filter(profile=hanging, state=Delivery.State.PENDING).count() == 20
    assert took < RESPONSE_TIMEOUT_S + 5


def test_an_answer_dripping_byte_by_byte_is_cut_at_the_response_timeout(account, scripted):
    # given a receiver that sends its 200-byte answer one byte every 100 ms (20 s in all)
    scripted.reset()
    dripping = profile_at(
        account, f"{scripted.url}/drip/200/100", response_timeout_s=RESPONSE_TIMEOUT_S, retry_schedule_s=[600]
    )
    emit(account, 3)
    # when the dispatcher runs
    run_bounded()
    # then no attempt outlasted the profile's response timeout by more than a second
    durations = list(Attempt.objects.filter(delivery__profile=dripping).values_list("duration_ms", flat=True))
    assert len(durations) == 3
    assert max(durations) < (RESPONSE_TIMEOUT_S + 1) * 1000, f"attempts took {durations} ms"


def test_a_10_mb_answer_is_read_only_up_to_the_cap_and_others_are_unaffected(account, scripted):
    # given a receiver answering 10 MB and a fast one
    scripted.reset()
    big = profile_at(account, f"{scripted.url}/big/{10 * 2**20}")
    fast = profile_at(account, f"{scripted.url}/fast")
    emit(account, 10)
    # when the dispatcher runs
    took = run_bounded()
    # then the big answers count as delivered (200) with at most the capped body kept
    assert Delivery.objects.filter(profile=big, state=Delivery.State.DELIVERED).count() == 10
    kept = [len(body) for body in Attempt.objects.filter(delivery__profile=big).values_list("response_body", flat=True)]
    assert max(kept) <= MAX_RESPONSE_BODY_BYTES
    # and the fast profile was delivered in the same run, quickly
    assert Delivery.objects.filter(profile=fast, state=Delivery.State.DELIVERED).count() == 10
    assert took < 10


def test_the_clock_jumping_forward_sends_due_retries_once_and_backward_sends_nothing_twice(account, receiver):
    # given 10 deliveries of which the first attempt of 5 fails, with a retry in 5 minutes
    failing: set[str] = set()
    profile = profile_at(account, receiver.url("/hooks"), retry_schedule_s=[300, 300])

    def answer(request):
        number = request.json()["data"]["n"]
        webhook_id = request.header("webhook-id")
        if number % 2 and webhook_id not in failing:
            failing.add(webhook_id)
            return Reply(status=503)
        return Reply(status=200)

    receiver.respond_by(answer)
    emit(account, 10)
    dispatch_run(worker_id="clock", linger_s=0)
    assert Delivery.objects.filter(profile=profile, state=Delivery.State.DELIVERED).count() == 5
    # when the clock jumps back an hour
    clock.advance(seconds=-3600)
    dispatch_run(worker_id="clock", linger_s=0)
    # then nothing is sent again and nothing is lost
    assert len(receiver.requests) == 10
    assert Delivery.objects.filter(profile=profile, state=Delivery.State.PENDING).count() == 5
    # when it jumps forward two hours (an hour past the retries' due time)
    clock.advance(seconds=7200)
    dispatch_run(worker_id="clock", linger_s=0)
    # then each retry is sent exactly once and every delivery is delivered
    assert Delivery.objects.filter(profile=profile, state=Delivery.State.DELIVERED).count() == 10
    sent = [request.header("webhook-id") for request in receiver.requests]
    assert len(sent) == 15
    assert {webhook_id: sent.count(webhook_id) for webhook_id in failing} == dict.fromkeys(failing, 2)
