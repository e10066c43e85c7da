"""Profile health: failing past the threshold turns a profile abnormal (deliveries held, announced),
a successful connectivity test brings it back; slow and limited profiles do not hold up others."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from callbacks import clock, event_types, signals
from callbacks.delivery import engine
from callbacks.delivery.engine import dispatch_batch, dispatch_run
from callbacks.models import CallbackProfile, Delivery, Event
from callbacks.services.connectivity import profile_test
from tests.callbacks.engine_helpers import delivery_of, emit, profile_for
from tests.receivers import Reply

pytestmark = pytest.mark.django_db


class Signals:
    """Records the health signals while a test runs."""

    def __init__(self) -> None:
        self.disabled: list[tuple[str, str]] = []
        self.recovered: list[str] = []

    def on_disabled(self, sender, profile, reason, **kwargs) -> None:
        self.disabled.append((str(profile.pk), reason))

    def on_recovered(self, sender, profile, **kwargs) -> None:
        self.recovered.append(str(profile.pk))


@pytest.fixture
def health_signals():
    recorded = Signals()
    signals.endpoint_disabled.connect(recorded.on_disabled)
    signals.endpoint_recovered.connect(recorded.on_recovered)
    yield recorded
    signals.endpoint_disabled.disconnect(recorded.on_disabled)
    signals.endpoint_recovered.disconnect(recorded.on_recovered)


def test_failures_are_counted_and_a_success_resets_them(account, receiver):
    profile = profile_for(account, receiver, retry_schedule_s=[0, 0, 0])
    receiver.respond_next(Reply(status=500), Reply(status=500))
    emit(account)
    dispatch_batch(worker_id="test")
    dispatch_batch(worker_id="test")
    profile.refresh_from_db()
    assert profile.consecutive_failures == 2 and profile.first_failure_at is not None
    dispatch_batch(worker_id="test")
    profile.refresh_from_db()
    assert (profile.consecutive_failures, profile.first_failure_at) == (0, None)
    assert profile.last_success_at is not None and profile.status == CallbackProfile.Status.ENABLED


def test_failing_for_five_days_turns_the_profile_abnormal_and_holds_its_work(account, receiver, health_signals):
    # given a profile whose endpoint is down, with a long schedule, and a watcher of operational events
    profile = profile_for(account, receiver, retry_schedule_s=[3600] * 200)
    watcher = profile_for(account, None, event_types.CALLBACK_PROFILE_DISABLED, url="http://127.0.0.1:9/w")
    receiver.respond_with(status=503)
    first = emit(account)

    # when it keeps failing for just under five days, it stays enabled
    dispatch_batch(worker_id="test")
    for _ in range(4 * 24 - 1):
        clock.advance(seconds=3600 * 1.11)
        dispatch_batch(worker_id="test")
    profile.refresh_from_db()
    assert profile.status == CallbackProfile.Status.ENABLED
    assert (clock.now() - profile.first_failure_at).days == 4

    # and once it has failed for longer than five days it turns abnormal
    second = emit(account)
    while profile.status == CallbackProfile.Status.ENABLED and (clock.now() - profile.first_failure_at).days < 6:
        clock.advance(seconds=3600 * 1.11)
        dispatch_batch(worker_id="test")
        profile.refresh_from_db()

    # then its deliveries are held, not dropped, and the alerts app and subscribers were told
    assert profile.status == CallbackProfile.Status.ABNORMAL and profile.abnormal_since is not None
    assert "failing since" in profile.status_reason
    assert {delivery_of(first).state, delivery_of(second).state} == {Delivery.State.HELD}
    assert health_signals.disabled == [(str(profile.pk), profile.status_reason)]
    notice = Event.objects.get(type=event_types.CALLBACK_PROFILE_DISABLED)
    assert Delivery.objects.filter(event=notice, profile=watcher).exists()
    # and new events for it are held too, and nothing more is sent to it
    third = emit(account)
    sent = len(receiver.requests)
    clock.advance(seconds=7200)
    dispatch_batch(worker_id="test")
    assert delivery_of(third).state == Delivery.State.HELD and len(receiver.requests) == sent


def test_n_exhausted_deliveries_turn_the_profile_abnormal(account, receiver, settings, health_signals):
    # given a threshold of three exhausted deliveries and a schedule of one immediate retry
    settings.CALLBACKS_ABNORMAL_AFTER_EXHAUSTED = 3
    profile = profile_for(account, receiver, retry_schedule_s=[0])
    receiver.respond_with(status=500)

    # when three deliveries fail twice each, and one more waits
    for _ in range(3):
        emit(account)
    dispatch_batch(worker_id="test")
    profile.refresh_from_db()
    assert profile.status == CallbackProfile.Status.ENABLED and profile.exhausted_deliveries == 0
    dispatch_batch(worker_id="test")
    waiting = emit(account)

    # then the profile is abnormal and the waiting delivery is held
    profile.refresh_from_db()
    assert profile.status == CallbackProfile.Status.ABNORMAL and profile.exhausted_deliveries == 3
    assert delivery_of(waiting).state == Delivery.State.HELD
    assert [pk for pk, _ in health_signals.disabled] == [str(profile.pk)]


def test_a_successful_test_brings_an_abnormal_profile_back_and_releases_its_work(account, receiver, health_signals):
    # given an abnormal profile with held deliveries
    profile = profile_for(account, receiver, status=CallbackProfile.Status.ABNORMAL, consecutive_failures=9)
    held = [emit(account, {"n": number}) for number in range(3)]
    assert {delivery_of(event).state for event in held} == {Delivery.State.HELD}

    # when its endpoint answers the connectivity test
    result = profile_test(profile=profile)

    # then it is enabled, announced, and its held deliveries go out
    assert result.ok and result.recovered and result.profile_status == CallbackProfile.Status.ENABLED
    profile.refresh_from_db()
    assert profile.status == CallbackProfile.Status.ENABLED and profile.consecutive_failures == 0
    assert health_signals.recovered == [str(profile.pk)]
    assert Event.objects.filter(type=event_types.CALLBACK_PROFILE_RECOVERED).exists()
    dispatch_batch(worker_id="test")
    assert {delivery_of(event).state for event in held} == {Delivery.State.DELIVERED}
    assert len(receiver.requests) == 4  # the test, then the three


def test_a_failed_test_leaves_an_abnormal_profile_abnormal(account, receiver, health_signals):
    profile = profile_for(account, receiver, status=CallbackProfile.Status.ABNORMAL)
    receiver.respond_with(status=502)
    result = profile_test(profile=profile)
    assert not result.ok and not result.recovered and result.profile_status == CallbackProfile.Status.ABNORMAL
    assert health_signals.recovered == []


def test_the_per_profile_in_flight_limit_holds(account, receiver):
    # given a profile allowing 3 requests at once and a receiver that counts concurrent requests
    profile_for(account, receiver, max_in_flight=3)
    active, peak, lock = [0], [0], threading.Lock()

    def slow(request):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return Reply(status=200)

    receiver.respond_by(slow)

    # when 20 events go out
    for number in range(20):
        emit(account, {"n": number})
    result = dispatch_run(worker_id="test", linger_s=0)

    # then all were delivered, never more than 3 at once, but more than one at a time
    assert result.processed == 20
    assert Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == 20
    assert peak[0] == 3


def test_a_hanging_endpoint_does_not_hold_up_the_others(account, receiver_factory):
    # given a profile whose endpoint hangs (2 requests at a time, 0.5 s timeout) and a healthy one
    hanging, healthy = receiver_factory(), receiver_factory()
    stuck = profile_for(account, hanging, event_types.OTP_SENT, max_in_flight=2, response_timeout_s=0.5)
    fine = profile_for(account, healthy, event_types.MESSAGE_STATUS)
    hanging.respond_with(hang=True)
    for number in range(30):
        emit(account, {"n": number}, type=event_types.OTP_SENT)
    for number in range(30):
        emit(account, {"n": number})

    # when a dispatcher runs for a second and a half
    started = time.time()
    dispatch_run(worker_id="test", linger_s=0, budget_s=1.5)

    # then the healthy endpoint got all its events before the hanging one's first timeout, while the
    # hanging one never had more than its limit waiting on it
    assert len(healthy.requests) == 30
    assert max(request.arrived_at for request in healthy.requests) - started < 0.5
    assert len([r for r in hanging.requests if r.arrived_at - started < 0.5]) == 2
    assert Delivery.objects.filter(profile=fine, state=Delivery.State.DELIVERED).count() == 30
    assert not Delivery.objects.filter(profile=stuck, state=Delivery.State.DELIVERED).exists()


def test_a_busy_profile_gets_its_backlog_in_due_order(account, receiver, settings, monkeypatch):
    # given a profile taking 2 requests at once, and 60 deliveries that fell due over the past half hour in
    # the reverse of the order they were made, more than one claim takes
    settings.CALLBACKS_DISPATCH_BATCH_SIZE = 10
    # (a pause of the machine over a second would make its 10 ms answers look slow, and parking a slow
    # profile's backlog trades its order for the other profiles' turn: the next test's subject, not this one's)
    monkeypatch.setattr(engine, "SLOW_PROFILE_S", float("inf"))
    profile_for(account, receiver, max_in_flight=2)
    receiver.respond_by(lambda request: time.sleep(0.01) or Reply(status=200))
    for number in range(60):
        emit(account, {"n": number})
    now = clock.now()
    for number, delivery in enumerate(Delivery.objects.order_by("event__created_at")):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now - timedelta(minutes=1 + number / 2))
    due_order = [
        str(delivery_id) for delivery_id in Delivery.objects.order_by("next_attempt_at").values_list("pk", flat=True)
    ]

    # when a dispatcher drains the backlog
    result = dispatch_run(worker_id="test", linger_s=0)

    # then the requests arrived in due order, but for the two in flight at once overtaking each other
    assert result.processed == 60
    arrival_order = [request.headers["webhook-id"] for request in receiver.wait_for(60)]
    displacement = [abs(rank - arrival_order.index(delivery_id)) for rank, delivery_id in enumerate(due_order)]
    assert max(displacement) <= 2, f"deliveries arrived up to {max(displacement)} places from their due order"


def test_a_slow_profiles_surplus_backlog_is_parked_out_of_the_claims_way(account, receiver_factory):
    # given a profile answering after 1.5 s (2 requests at a time) with 200 due, and a fast one
    slow_receiver, fast_receiver = receiver_factory(), receiver_factory()
    slow = profile_for(account, slow_receiver, event_types.OTP_SENT, max_in_flight=2)
    fast = profile_for(account, fast_receiver, event_types.MESSAGE_STATUS)
    slow_receiver.respond_by(lambda request: time.sleep(1.5) or Reply(status=200))
    for number in range(200):
        emit(account, {"n": number}, type=event_types.OTP_SENT)

    # and 30 events for the fast one that fall due once the slow one has been waited on for a second
    for number in range(30):
        emit(account, {"n": number})
    Delivery.objects.filter(profile=fast).update(next_attempt_at=clock.now() + timedelta(seconds=1.2))

    # when a dispatcher runs for two and a half seconds
    dispatch_run(worker_id="test", linger_s=0.5, budget_s=2.5)

    # then the fast profile got everything, and the slow one's backlog beyond what its slots take
    # in the next seconds waits out of the way, none of it lost
    assert len(fast_receiver.requests) == 30
    waiting = Delivery.objects.filter(profile=slow, state=Delivery.State.PENDING)
    parked = waiting.filter(next_attempt_at__gt=clock.now(), attempt_count=0, leased_by="")
    assert parked.count() >= 150
    assert waiting.count() + Delivery.objects.filter(profile=slow, state=Delivery.State.DELIVERED).count() == 200
