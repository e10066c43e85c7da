"""The django-q2 side of the engine: wake-ups, the sweep that needs no queue, schedules, retention."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django_q.brokers import get_broker
from django_q.models import Schedule

from callbacks import clock, tasks
from callbacks.delivery import wake
from callbacks.delivery.retention import retention_purge
from callbacks.models import Attempt, Delivery, DeliveryStats, Event
from tests.callbacks.engine_helpers import delivery_of, emit, profile_for
from tests.receivers import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def empty_queue():
    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


def test_losing_every_queued_task_loses_no_delivery(
    account, receiver, empty_queue, django_capture_on_commit_callbacks, settings
):
    # given events whose wake-up task was queued and then lost
    settings.CALLBACKS_DISPATCH_LINGER_S = 0
    profile_for(account, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        events = [emit(account, {"n": number}) for number in range(5)]
    assert empty_queue.queue_size() == 1
    empty_queue.purge_queue()

    # when the per-minute sweep runs
    processed = tasks.dispatch_sweep()

    # then every delivery is delivered
    assert processed == 5
    assert {delivery_of(event).state for event in events} == {Delivery.State.DELIVERED}
    assert len(receiver.wait_for(5)) == 5


def test_the_wakeup_task_delivers_until_nothing_is_due_and_clears_its_flag(account, receiver, empty_queue, settings):
    # given a queued wake-up (the flag set) and due work, one delivery failing once then retried at once
    settings.CALLBACKS_DISPATCH_LINGER_S = 0
    profile_for(account, receiver)
    receiver.respond_next(Reply(status=500))
    assert wake.wake_request()
    event = emit(account)

    # when the task runs
    tasks.dispatch_on_wake()

    # then the retry went out in the same run, and the next event can queue a new wake-up
    assert delivery_of(event).state == Delivery.State.DELIVERED and delivery_of(event).attempt_count == 2
    wake.wake_memory_clear()
    assert wake.wake_request()


def test_schedules_are_registered_once_and_kept_after_migrate():
    # given the schedules created by the test database's migrate
    names = {tasks.SWEEP_SCHEDULE_NAME, tasks.PURGE_SCHEDULE_NAME}
    sweep = Schedule.objects.get(name=tasks.SWEEP_SCHEDULE_NAME)
    assert (sweep.func, sweep.schedule_type, sweep.minutes) == ("callbacks.tasks.dispatch_sweep", Schedule.MINUTES, 1)
    Schedule.objects.filter(pk=sweep.pk).update(minutes=7)

    # when migrate runs again
    call_command("migrate", verbosity=0)

    # then there is still one of each, put back as it should be
    assert Schedule.objects.filter(name__in=names).count() == 2
    assert Schedule.objects.get(name=tasks.SWEEP_SCHEDULE_NAME).minutes == 1


def test_retention_purges_old_attempts_and_payloads_but_keeps_rollups_and_waiting_events(account, receiver, settings):
    # given a delivered event, a failed one and a pending one, 40 days old, and a fresh delivered one
    settings.CALLBACKS_RETENTION_DAYS = 30
    profile_for(account, receiver, retry_schedule_s=[86400 * 100])
    delivered_old = emit(account, {"secret": "old"})
    receiver.respond_next(Reply(status=200), Reply(status=500))
    from callbacks.delivery.engine import dispatch_batch

    dispatch_batch(worker_id="test")
    waiting_old = emit(account, {"keep": "me"})
    dispatch_batch(worker_id="test")
    assert delivery_of(waiting_old).state == Delivery.State.PENDING
    clock.advance(seconds=40 * 86400)
    fresh = emit(account, {"new": True})
    dispatch_batch(worker_id="test")
    stats_before = list(DeliveryStats.objects.values_list("delivered", "failed", "attempts"))

    # when retention runs
    changed = retention_purge()

    # then old attempts and the old finished payload are gone, the rest stays
    assert changed == 3
    assert not Attempt.objects.filter(started_at__lt=clock.now() - timedelta(days=30)).exists()
    assert Attempt.objects.filter(delivery__event=fresh).exists()
    purged = Event.objects.get(pk=delivered_old.pk)
    assert purged.payload == {} and purged.payload_purged_at is not None
    assert Event.objects.get(pk=waiting_old.pk).payload == {"keep": "me"}
    assert Event.objects.get(pk=fresh.pk).payload == {"new": True}
    assert Delivery.objects.filter(event=delivered_old).exists()
    assert list(DeliveryStats.objects.values_list("delivered", "failed", "attempts")) == stats_before
    # and a second run finds nothing more
    assert retention_purge() == 0


def test_a_lasting_backlog_asks_for_help_again_and_a_helper_ends_when_nothing_is_due(
    account, receiver, empty_queue, settings
):
    # given a worker that takes 10 deliveries at a time, 500 due and a receiver answering in 40 ms
    settings.CALLBACKS_DISPATCH_LINGER_S = 0
    settings.CALLBACKS_DISPATCH_CONCURRENCY = 10
    settings.CALLBACKS_DISPATCH_BATCH_SIZE = 10
    profile_for(account, receiver, max_in_flight=10)
    receiver.respond_by(lambda request: time.sleep(0.04) or Reply(status=200))
    for number in range(500):
        emit(account, {"n": number})
    empty_queue.purge_queue()

    # when one worker drains them alone (about 0.4 s per 100)
    processed = tasks.dispatch_on_wake()

    # then every delivery went out, and while its claims came back full it asked for help every
    # second and a half, more than once (the helpers queued, none run)
    assert processed == 500
    assert empty_queue.queue_size() >= 2
    # and a helper that runs after the backlog is gone looks once and ends
    assert tasks.dispatch_on_help() == 0
