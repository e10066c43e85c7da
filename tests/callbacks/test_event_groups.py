"""Group commit of ingest: concurrent callers share transactions, yet each gets its own events and its
own error."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, connection

from callbacks import event_types
from callbacks.models import Account, Delivery, Event
from callbacks.services import event_groups
from callbacks.services.events import event_item_check, event_post
from tests.callbacks.engine_helpers import profile_for


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_each_get_their_own_stored_event(account):
    # given a subscribed profile and 8 producers posting 10 events each at once
    profile_for(account, None, event_types.MESSAGE_STATUS)
    answers: dict[int, list] = {}

    def producer(number: int) -> None:
        try:
            answers[number] = [
                event_post(account=account, item={"type": event_types.MESSAGE_STATUS, "data": {"p": number, "n": n}})
                for n in range(10)
            ]
        finally:
            connection.close()

    threads = [threading.Thread(target=producer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every event is stored with its delivery, and each answer names its own event and data
    assert Event.objects.count() == 80 and Delivery.objects.count() == 80
    for number, events in answers.items():
        for n, event in enumerate(events):
            assert Event.objects.get(pk=event.pk).payload == {"p": number, "n": n}
            assert [state for _, _, state in event.stored_deliveries] == [Delivery.State.PENDING]


@pytest.mark.django_db(transaction=True)
def test_a_caller_that_fails_in_a_group_fails_alone(account):
    # given a group of two callers, one of them for an account that does not exist
    profile_for(account, None, event_types.MESSAGE_STATUS)
    good = event_groups._Waiting(
        account=account, rows=[event_item_check({"type": event_types.MESSAGE_STATUS, "data": {"n": 1}})]
    )
    ghost = event_groups._Waiting(
        account=Account(name="gone"), rows=[event_item_check({"type": event_types.MESSAGE_STATUS, "data": {"n": 2}})]
    )
    from callbacks.services.events import _rows_store, _rows_store_once

    # when the group is stored
    event_groups._group_store(
        [ghost, good],
        store_once=lambda account, rows: _rows_store_once(account=account, rows=rows, profile=None),
        store=lambda account, rows: _rows_store(account=account, rows=rows),
    )

    # then the good caller's event is stored and answered, and only the other gets the error
    assert good.done and good.error is None and Event.objects.get().pk == good.events[0].pk
    assert ghost.done and isinstance(ghost.error, IntegrityError)
    assert Delivery.objects.count() == 1


class Interrupted(BaseException):
    """What a worker's timeout raises in the middle of a write (not an Exception)."""


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_writer_leaves_the_next_caller_free_to_write(account):
    # given a writer interrupted in the middle of its group
    profile_for(account, None, event_types.MESSAGE_STATUS)
    row = event_item_check({"type": event_types.MESSAGE_STATUS, "data": {"n": 1}})

    def interrupted(account, rows):
        raise Interrupted

    with pytest.raises(Interrupted):
        event_groups.rows_store_grouped(account=account, rows=[row], store_once=interrupted, store=interrupted)

    # then nothing was stored, and the next caller writes at once instead of waiting for it
    assert not Event.objects.exists()
    event_post(account=account, item={"type": event_types.MESSAGE_STATUS, "data": {"n": 2}})
    assert Event.objects.get().payload == {"n": 2}


@pytest.mark.django_db(transaction=True)
def test_the_writer_waits_for_a_request_already_arriving(account, monkeypatch):
    # given a request that has arrived at an ingest endpoint but not yet queued its event, and a long gather
    monkeypatch.setattr(event_groups, "GATHER_S", 5.0)
    profile_for(account, None, event_types.MESSAGE_STATUS)
    writes: list[int] = []
    from callbacks.services import events

    store_once = events._rows_store_once

    def counted(*, account, rows, profile):
        writes.append(len(rows))
        return store_once(account=account, rows=rows, profile=profile)

    monkeypatch.setattr(events, "_rows_store_once", counted)
    posted = threading.Event()

    def other_producer() -> None:
        try:
            posted.set()
            event_post(account=account, item={"type": event_types.MESSAGE_STATUS, "data": {"n": 1}})
        finally:
            connection.close()

    with event_groups.arriving():
        # when another producer posts meanwhile, and then the arriving one queues its own event
        thread = threading.Thread(target=other_producer)
        thread.start()
        posted.wait()
        time.sleep(0.05)
        event_post(account=account, item={"type": event_types.MESSAGE_STATUS, "data": {"n": 2}})
    thread.join(timeout=10)

    # then the writer waited for it: both events went in one write, well before the gather's end
    assert writes == [2]
    assert Event.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_request_that_leaves_without_events_stops_holding_the_writer(account, monkeypatch):
    # given a long gather and a request that arrives, then fails before it has events to store
    monkeypatch.setattr(event_groups, "GATHER_S", 5.0)
    profile_for(account, None, event_types.MESSAGE_STATUS)
    with pytest.raises(ValueError), event_groups.arriving():
        raise ValueError("refused before storing")

    # when a producer posts, then it is not held by the request that left
    started = time.monotonic()
    event_post(account=account, item={"type": event_types.MESSAGE_STATUS, "data": {"n": 1}})
    assert time.monotonic() - started < 1.0
    assert event_groups._arriving == 0
