"""One account's backlog costs another account at most one claim round (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callbacks import clock
from callbacks.delivery.claim import deliveries_claim, fair_shares
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import Account, CallbackProfile, Delivery
from tests.callbacks.engine_helpers import emit, profile_for
from tests.factories import AccountFactory

BACKLOG = 3000


def backlog_make(account: Account, profile: CallbackProfile, count: int, *, age_s: float = 60) -> None:
    """`count` deliveries of `profile`, all due since `age_s` ago (as after an outage or a big replay)."""
    event = emit(account, {"n": 0})
    Delivery.objects.filter(event=event).delete()
    due_at = clock.now() - timedelta(seconds=age_s)
    Delivery.objects.bulk_create(
        [
            Delivery(
                account=account,
                event=event,
                profile=profile,
                event_type=event.type,
                next_attempt_at=due_at + timedelta(milliseconds=index),
            )
            for index in range(count)
        ],
        batch_size=1000,
    )


def test_new_delivery_of_a_quiet_account_is_claimed_in_the_next_round(db, receiver_factory):
    # given account B with thousands of due deliveries and account A with none
    noisy, quiet = AccountFactory(name="B"), AccountFactory(name="A")
    noisy_profile = profile_for(noisy, receiver_factory(), max_in_flight=1000)
    quiet_profile = profile_for(quiet, receiver_factory(), max_in_flight=1000)
    backlog_make(noisy, noisy_profile, BACKLOG)
    first = deliveries_claim(worker_id="w1", limit=200, now=clock.now(), lease_s=300)
    assert {row.account_id for row in first} == {noisy.pk}

    # when A's new event comes in behind B's whole backlog
    event = emit(quiet, {"phone": "+6591234567"})
    claimed = deliveries_claim(worker_id="w1", limit=200, now=clock.now(), lease_s=300)

    # then the very next round takes it, and B still gets the rest of the round
    assert [row.event_id for row in claimed if row.account_id == quiet.pk] == [event.pk]
    assert sum(row.account_id == noisy.pk for row in claimed) == 199
    assert Delivery.objects.get(event=event, profile=quiet_profile).leased_by == "w1"


def test_backlog_of_one_account_drains_oldest_first(db, receiver_factory):
    # given B's backlog
    noisy = AccountFactory()
    profile = profile_for(noisy, receiver_factory(), max_in_flight=1000)
    backlog_make(noisy, profile, 500)
    oldest = list(Delivery.objects.filter(profile=profile).order_by("next_attempt_at").values_list("pk", flat=True))

    # when two rounds are claimed with nobody else due
    claimed = [row.id for row in deliveries_claim(worker_id="w", limit=100, now=clock.now(), lease_s=300)]
    claimed += [row.id for row in deliveries_claim(worker_id="w", limit=100, now=clock.now(), lease_s=300)]

    # then the whole round went to B, oldest first
    assert claimed == oldest[:200]


def test_engine_sends_quiet_accounts_event_in_the_first_round(db, receiver_factory):
    # given B's backlog to one receiver and A's profile on another
    noisy, quiet = AccountFactory(), AccountFactory()
    noisy_receiver, quiet_receiver = receiver_factory(), receiver_factory()
    backlog_make(noisy, profile_for(noisy, noisy_receiver, max_in_flight=50), BACKLOG)
    profile_for(quiet, quiet_receiver)
    emit(quiet, {"phone": "+6591234567"})

    # when one dispatcher round runs
    dispatch_batch(worker_id="test", batch_size=50)

    # then A's receiver got its callback in that round, and B's receiver got the rest of it
    assert len(quiet_receiver.wait_for(1)) == 1
    assert len(noisy_receiver.wait_for(49)) == 49
    assert Delivery.objects.filter(account=noisy, state=Delivery.State.DELIVERED).count() == 49


def test_more_accounts_than_a_round_are_served_oldest_due_first(db):
    # given 5 accounts with due work and a round of 3
    accounts = [AccountFactory() for _ in range(5)]
    for age_s, account in zip((10, 50, 20, 40, 30), accounts, strict=True):
        backlog_make(account, profile_for(account, None, max_in_flight=1000), 10, age_s=age_s)

    # when one round is claimed
    claimed = deliveries_claim(worker_id="w", limit=3, now=clock.now(), lease_s=300)

    # then the three accounts waiting longest got one each
    assert sorted(row.account_id for row in claimed) == sorted([accounts[1].pk, accounts[3].pk, accounts[4].pk])


def test_saturated_profile_is_skipped_within_its_account(db):
    # given B with a saturated profile and another with room
    noisy = AccountFactory()
    full, free = profile_for(noisy, None, max_in_flight=1000), profile_for(noisy, None, max_in_flight=1000)
    backlog_make(noisy, full, 300, age_s=100)
    backlog_make(noisy, free, 5, age_s=10)

    # when a claim skips the saturated profile
    claimed = deliveries_claim(worker_id="w", limit=100, now=clock.now(), lease_s=300, skip_profiles=(full.pk,))

    # then only the other profile's rows are taken
    assert {row.profile_id for row in claimed} == {free.pk}
    assert len(claimed) == 5


@pytest.mark.parametrize(
    ("due", "limit", "expected"),
    [
        ({"a": 1, "b": 5000}, 200, {"a": 1, "b": 199}),
        ({"a": 5000, "b": 5000}, 200, {"a": 100, "b": 100}),
        ({"a": 3, "b": 60, "c": 5000}, 100, {"a": 3, "b": 49, "c": 48}),
        ({"a": 10}, 200, {"a": 10}),
    ],
)
def test_fair_shares_split_a_round(due, limit, expected):
    shares = fair_shares(due, limit)
    assert shares == expected
    assert sum(shares.values()) <= limit
