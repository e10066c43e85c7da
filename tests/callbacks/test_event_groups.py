"""Group commit of ingest: concurrent callers share transactions, yet each gets its own events and its
own error."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, connections

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
def test_an_event_posted_after_the_database_dropped_the_connection_is_stored(account):
    # given a web thread whose PostgreSQL connection the server has closed since its last request
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    profile_for(account, None, event_types.MESSAGE_STATUS)
    event_post(account=account, item={"type": event_types.MESSAGE_STATUS, "data": {"n": 1}})
    connection.close_if_unusable_or_obsolete()  # what the end of a request does
    backend_pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
    finally:
        other.close()

    # when the next request posts an event
    event = event_post(account=account, item={"type": event_types.MESSAGE_STATUS, "data": {"n": 2}})

    # then it is stored on a new connection, once, not refused
    assert Event.objects.get(pk=event.pk).payload == {"n": 2}
    assert Event.objects.count() == 2 and Delivery.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("prepared", [True, False])
def test_the_ingest_statement_is_prepared_unless_turned_off(account, settings, prepared):
    # given PostgreSQL with prepared statements on or off (off: for a pooler that cannot keep them)
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL prepares the ingest statement")
    settings.DATABASE_PREPARED_STATEMENTS = prepared
    profile_for(account, None, event_types.MESSAGE_STATUS)
    connection.close()

    # when events are posted on a new connection
    events = [
        event_post(account=account, item={"type": event_types.MESSAGE_STATUS, "data": {"n": n}}) for n in range(3)
    ]

    # then they are stored with their deliveries either way, and the server holds a plan only when on
    assert Event.objects.count() == 3 and Delivery.objects.count() == 3
    assert [Event.objects.get(pk=event.pk).payload for event in events] == [{"n": 0}, {"n": 1}, {"n": 2}]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["WITH incoming AS%"])
        assert cursor.fetchone()[0] == (1 if prepared else 0)


SQLITE_FULL, SQLITE_NORMAL = 2, 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL: synchronous_commit, per transaction")
def test_on_sqlite_an_accepted_event_waits_for_the_disk_the_dispatchers_bookkeeping_does_not(account, receiver):
    from callbacks.delivery import sql
    from callbacks.delivery.engine import dispatch_batch

    def synchronous() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous")
            return cursor.fetchone()[0]

    # given a connection as every process opens it: its commits wait for the disk
    profile_for(account, receiver, event_types.MESSAGE_STATUS)
    assert synchronous() == SQLITE_FULL
    # when an event is posted, then it is committed that way
    event_post(account=account, item={"type": event_types.MESSAGE_STATUS, "data": {"n": 1}})
    assert synchronous() == SQLITE_FULL
    # and the dispatcher's own transactions do not wait, and give the connection back as it was
    with sql.dispatcher_transaction():
        assert synchronous() == SQLITE_NORMAL
    assert synchronous() == SQLITE_FULL
    with pytest.raises(RuntimeError), sql.dispatcher_transaction():
        raise RuntimeError("a failed flush")
    assert synchronous() == SQLITE_FULL
    assert dispatch_batch(worker_id="test") == 1
    receiver.wait_for(1)
    assert synchronous() == SQLITE_FULL
