"""Per-key ordering: a delivery of a key is not sent while an earlier one of the same profile and key is
unfinished, across workers, retries, failures for good, expired leases, Retry and Replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from django.test import Client
from django.urls import reverse

from callbacks import clock, event_types
from callbacks.delivery.claim import deliveries_claim
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import CallbackProfile, Delivery
from callbacks.services.deliveries import delivery_cancel, delivery_retry
from callbacks.services.events import events_emit
from callbacks.services.replays import deliveries_replay
from tests.callbacks.engine_helpers import ROOT, emit, profile_for, worker_run
from tests.factories import MembershipFactory
from tests.receivers import Reply

KEYS = 6
PER_KEY = 6
LEASE_S = 120
PER_KEY_ORDERING = CallbackProfile.Ordering.PER_KEY


class OrderWatcher:
    """Answers a receiver's requests and checks, as each arrives, that every earlier event of its key has
    settled (answered 2xx, or 400: failed for good). Fails some first attempts with 500 (retried)."""

    def __init__(self, *, permanent: set[tuple[str, int]] = frozenset()) -> None:
        self._lock = threading.Lock()
        self.settled: dict[str, set[int]] = {}
        self.seen: set[str] = set()
        self.arrivals: list[tuple[str, int]] = []
        self.out_of_order: list[tuple[str, int, list[int]]] = []
        self.permanent = permanent

    def __call__(self, request) -> Reply:
        data = request.json()["data"]
        key, seq, webhook_id = data["message_id"], data["seq"], request.header("webhook-id")
        with self._lock:
            self.arrivals.append((key, seq))
            settled = self.settled.setdefault(key, set())
            missing = [earlier for earlier in range(seq) if earlier not in settled]
            if missing:
                self.out_of_order.append((key, seq, missing))
            first_attempt = webhook_id not in self.seen
            self.seen.add(webhook_id)
            if (key, seq) in self.permanent:
                settled.add(seq)
                return Reply(status=400)
            if first_attempt and seq % 3 == 1:
                return Reply(status=500)
            settled.add(seq)
        return Reply(delay_s=0.01)


def _environment(database_url: str, *, redis: bool) -> dict:
    environment = {key: value for key, value in os.environ.items() if redis or key != "REDIS_URL"}
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings_test",
        DATABASE_URL=database_url,
        CALLBACKS_DISPATCH_CONCURRENCY="8",
        CALLBACKS_DISPATCH_BATCH_SIZE="8",
        CALLBACKS_LEASE_S=str(LEASE_S),
        LOG_LEVEL="WARNING",
    )
    return environment


def _worker(environment: dict, *arguments: str) -> dict:
    return worker_run("tests.callbacks.ordering_worker", environment, *arguments)


def _two_workers_keep_each_key_in_order(receiver, database_url: str, *, redis: bool = False) -> None:
    # given a per-key profile with 6 keys × 6 events, a receiver that fails a third of first attempts
    # (retried at once) and fails two events for good
    environment = _environment(database_url, redis=redis)
    watcher = OrderWatcher(permanent={("m1", 2), ("m4", 0)})
    receiver.respond_by(watcher)
    _worker(environment, "setup", receiver.url("/hooks"), str(KEYS), str(PER_KEY))

    # when two workers dispatch at once (then again until nothing is left: one may stop while the
    # other still holds the keys it could have taken)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.callbacks.ordering_worker", "work"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors.decode()[-2000:]
    for _ in range(10):
        states = _worker(environment, "states")
        if not states.get("pending"):
            break
        _worker(environment, "work")

    # then everything settled: two failed for good, the rest delivered
    assert states == {"delivered": KEYS * PER_KEY - 2, "failed": 2}
    # and each event arrived only once every earlier one of its key had settled
    assert watcher.out_of_order == []
    # and both workers took part, retries happened, and the keys after a failure for good went on
    assert {seq for key, seq in watcher.arrivals if key == "m1"} == set(range(PER_KEY))
    assert len(watcher.arrivals) > KEYS * PER_KEY


def test_two_workers_keep_each_key_in_order_under_failures_and_retries(receiver, workers_database_url):
    redis = workers_database_url.startswith("postgres") and bool(os.environ.get("REDIS_URL"))
    _two_workers_keep_each_key_in_order(receiver, workers_database_url, redis=redis)


# --- the claim ------------------------------------------------------------------------------------------
def _claimed_seqs(worker_id: str) -> set[tuple[str, int]]:
    rows = deliveries_claim(worker_id=worker_id, limit=50, now=clock.now(), lease_s=LEASE_S)
    deliveries = Delivery.objects.select_related("event").in_bulk([row.id for row in rows])
    return {(d.event.payload["message_id"], d.event.payload["seq"]) for d in deliveries.values()}


@pytest.mark.django_db
def test_a_lease_of_a_worker_that_died_keeps_its_key_blocked_until_it_ends(account):
    # given a per-key profile with two events of m1 and one of m2, emitted in one burst
    profile_for(account, None, ordering=PER_KEY_ORDERING)
    events_emit(
        account=account,
        items=[
            (event_types.MESSAGE_STATUS, {"message_id": "m1", "seq": 0}),
            (event_types.MESSAGE_STATUS, {"message_id": "m1", "seq": 1}),
            (event_types.MESSAGE_STATUS, {"message_id": "m2", "seq": 0}),
        ],
    )
    # when a worker claims (and dies with them in flight)
    assert _claimed_seqs("worker-a") == {("m1", 0), ("m2", 0)}
    # then another worker gets nothing: m1's second waits behind the leased first
    assert _claimed_seqs("worker-b") == set()
    # and once the lease ends, the first of each key is taken again, never the second before it
    clock.advance(seconds=LEASE_S + 1)
    assert _claimed_seqs("worker-b") == {("m1", 0), ("m2", 0)}
    assert _claimed_seqs("worker-c") == set()


@pytest.mark.django_db
def test_a_delivery_cancelled_by_hand_lets_the_next_of_its_key_go(account, receiver):
    profile_for(account, receiver, ordering=PER_KEY_ORDERING)
    events = [emit(account, {"message_id": "m5", "seq": seq}) for seq in range(3)]
    delivery_cancel(delivery=Delivery.objects.get(event=events[0]))
    assert _claimed_seqs("worker-a") == {("m5", 1)}
    clock.advance(seconds=LEASE_S + 1)
    assert _send_all(receiver) == [1, 2]


@pytest.mark.django_db
def test_without_ordering_every_due_delivery_is_claimed_at_once(account):
    profile_for(account, None)
    for seq in range(3):
        emit(account, {"message_id": "m1", "seq": seq})
    assert _claimed_seqs("worker-a") == {("m1", 0), ("m1", 1), ("m1", 2)}
    assert set(Delivery.objects.values_list("ordering_key", flat=True)) == {None}


# --- the key at ingest ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_key_is_stored_from_the_profiles_path_or_the_types_default(account, api):
    # given three profiles: per key on the default path, per key on order.id, and no ordering
    by_default = profile_for(account, None, event_types.MESSAGE_STATUS, event_types.ALERT_BALANCE_LOW)
    by_default.ordering = PER_KEY_ORDERING
    by_default.save()
    by_order = profile_for(account, None, ordering=PER_KEY_ORDERING, ordering_key_path="order.id")
    unordered = profile_for(account, None)
    # when events arrive through the API, one at a time and in a batch
    one = api.post(
        "/api/v1/events/", {"type": "message.status", "data": {"message_id": "m9", "order": {"id": 42}}}, format="json"
    )
    many = api.post(
        "/api/v1/events/batch/",
        {
            "events": [
                {"type": "message.status", "data": {"message_id": "m8"}},
                {"type": "alert.balance_low", "data": {"balance_usd": "1.00"}},
            ]
        },
        format="json",
    )
    assert one.status_code == 202 and many.status_code in (200, 202, 207), many.content
    # then each delivery carries its profile's key, none where there is no value or no ordering
    keys = {(d.profile_id, d.event.payload.get("message_id")): d.ordering_key for d in Delivery.objects.all()}
    assert keys[(by_default.pk, "m9")] == "m9"
    assert keys[(by_default.pk, "m8")] == "m8"
    assert keys[(by_default.pk, None)] is None  # the alert type has no default key
    assert keys[(by_order.pk, "m9")] == "42"
    assert keys[(by_order.pk, "m8")] is None
    assert {key for (profile_id, _), key in keys.items() if profile_id == unordered.pk} == {None}


# --- the API -------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_api_sets_and_shows_per_key_ordering(api, receiver):
    body = {"name": "Ordered", "url": receiver.url(), "event_types": ["message.status"], "ordering": "per_key"}
    created = api.post("/api/v1/callback-profiles/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["ordering"] == "per_key" and created.json()["ordering_key_path"] == ""
    changed = api.patch(
        f"/api/v1/callback-profiles/{created.json()['id']}/", {"ordering_key_path": "order.id"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["ordering_key_path"] == "order.id"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"ordering": "sometimes"}, "ordering", "valid choice"),
        ({"ordering": "per_key", "ordering_key_path": "order id!"}, "ordering_key_path", "separated by dots"),
        (
            {"ordering": "per_key", "event_types": ["alert.balance_low"]},
            "ordering_key_path",
            "has a default key",
        ),
    ],
)
def test_the_api_refuses_an_ordering_it_cannot_follow(api, receiver, changes, field, reason):
    body = {"name": "Ordered", "url": receiver.url(), "event_types": ["message.status"], **changes}
    response = api.post("/api/v1/callback-profiles/", body, format="json")
    assert response.status_code == 400
    assert reason in json.dumps(response.json()[field])
    assert not CallbackProfile.objects.exists()


# --- the log, Retry and Replay ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_log_says_which_key_a_delivery_waits_for(account):
    client = Client(REMOTE_ADDR="127.0.0.1")  # the login is recorded with the address
    profile_for(account, None, ordering=PER_KEY_ORDERING)
    first = emit(account, {"message_id": "m7", "seq": 0})
    second = emit(account, {"message_id": "m7", "seq": 1})
    user = MembershipFactory(account=account).user
    login = {"username": user.username, "password": "correct horse battery staple"}
    assert client.post(reverse("admin:login"), login).status_code == 302
    page = client.get(reverse("admin:callbacks_delivery_changelist")).content.decode()
    assert page.count("waiting for an earlier delivery of key m7") == 1
    waiting = Delivery.objects.get(event=second)
    detail = client.get(reverse("admin:callbacks_delivery_change", args=[waiting.pk])).content.decode()
    assert "Waiting for an earlier delivery of key m7" in detail
    head = Delivery.objects.get(event=first)
    detail = client.get(reverse("admin:callbacks_delivery_change", args=[head.pk])).content.decode()
    assert "earlier delivery of key" not in detail


def _send_all(receiver, rounds: int = 10) -> list[int]:
    for _ in range(rounds):
        if not dispatch_batch(worker_id="test"):
            break
    return [request.json()["data"]["seq"] for request in receiver.requests]


@pytest.mark.django_db
def test_replay_and_retry_send_a_key_again_in_its_order(account, receiver):
    # given three failed deliveries of one key
    profile_for(account, receiver, ordering=PER_KEY_ORDERING)
    events = [emit(account, {"message_id": "m3", "seq": seq}) for seq in range(3)]
    Delivery.objects.update(state=Delivery.State.FAILED, completed_at=clock.now())
    # when they are replayed, the last one first retried by hand too
    delivery_retry(delivery=Delivery.objects.get(event=events[2]))
    assert deliveries_replay(account=account).count == 2
    # then they are sent again oldest first, one after the other
    assert _send_all(receiver) == [0, 1, 2]
    assert set(Delivery.objects.values_list("state", flat=True)) == {Delivery.State.DELIVERED}
