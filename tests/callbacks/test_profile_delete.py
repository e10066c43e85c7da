"""Delete as customers mean it: gone from the API (404), nothing more sent, waiting deliveries
cancelled, and the history kept for the delivery log and reports as a deleted callback."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from callbacks import event_types
from callbacks.delivery.engine import dispatch_batch
from callbacks.delivery.retention import retention_purge
from callbacks.models import CallbackProfile, Delivery, DeliveryStats
from reports import periods
from reports.building import report_build
from tests.callbacks.engine_helpers import emit, profile_for
from tests.receivers import Reply

pytestmark = pytest.mark.django_db
PROFILES = "/api/v1/callback-profiles/"


def test_delete_keeps_the_history_cancels_what_waits_and_sends_nothing_more(api, account, receiver):
    # given a used profile: one delivery delivered, one waiting for a retry, one held
    profile = profile_for(account, receiver, name="Orders", retry_schedule_s=[3600])
    emit(account)
    dispatch_batch(worker_id="test")
    receiver.respond_next(Reply(status=503))
    emit(account)
    dispatch_batch(worker_id="test")
    receiver.wait_for(2)
    held = emit(account).deliveries.get()
    Delivery.objects.filter(pk=held.pk).update(state=Delivery.State.HELD)
    assert DeliveryStats.objects.filter(profile=profile).exists()

    # when it is deleted over the API
    assert api.delete(f"{PROFILES}{profile.pk}/").status_code == 204

    # then the API no longer knows it: read, change, test, trigger and lists
    assert api.get(f"{PROFILES}{profile.pk}/").status_code == 404
    assert api.patch(f"{PROFILES}{profile.pk}/", {"name": "x"}, format="json").status_code == 404
    assert api.post(f"{PROFILES}{profile.pk}/test/").status_code == 404
    assert api.post(f"{PROFILES}{profile.pk}/trigger/", {"data": {}}, format="json").status_code == 404
    assert api.delete(f"{PROFILES}{profile.pk}/").status_code == 404
    assert api.get(PROFILES).json()["results"] == []
    # and its waiting deliveries ended as cancelled, the delivered one and the statistics stay
    states = sorted(Delivery.objects.filter(profile_id=profile.pk).values_list("state", flat=True))
    assert states == ["cancelled", "cancelled", "delivered"]
    assert DeliveryStats.objects.filter(profile_id=profile.pk).exists()
    log = api.get("/api/v1/deliveries/").json()["results"]
    assert len(log) == 3
    assert {(row["profile_name"], row["profile_deleted"]) for row in log} == {("Orders", True)}
    assert api.get(f"/api/v1/deliveries/{held.pk}/").json()["profile_deleted"] is True
    # and what was delivered or cancelled is neither retried nor replayed
    assert api.post(f"/api/v1/deliveries/{held.pk}/retry/").status_code == 400
    replay = api.post("/api/v1/deliveries/replay/", {"state": "cancelled"}, format="json")
    assert replay.status_code == 200 and replay.json()["count"] == 0, replay.json()
    # and nothing more is sent: new events make no delivery, the engine sends nothing
    emit(account)
    dispatch_batch(worker_id="test")
    assert len(receiver.requests) == 2
    assert Delivery.objects.filter(profile_id=profile.pk).count() == 3


def test_a_report_names_a_deleted_callback(account, receiver):
    # given a profile used today, then deleted
    profile = profile_for(account, receiver, name="Orders")
    emit(account)
    dispatch_batch(worker_id="test")
    receiver.wait_for(1)
    from callbacks.services.profiles import profile_delete

    profile_delete(profile=profile)
    # when today's report is built
    now = timezone.now()
    period = periods.Period(
        frequency=periods.DAILY, start=now - dt.timedelta(days=1), end=now + dt.timedelta(hours=1), timezone="UTC"
    )
    report = report_build(account=account, period=period, now=now)
    # then its deliveries count, under its name marked deleted
    assert report.delivered_count == 1
    assert [row["profile_name"] for row in report.per_profile_counts] == ["Orders (deleted callback)"]


def test_retention_removes_a_deleted_callback_with_its_history(account, receiver, settings):
    settings.CALLBACKS_RETENTION_DAYS = 30
    old = profile_for(account, receiver, name="Old")
    recent = profile_for(account, receiver, event_types.OTP_SENT, name="Recent")
    emit(account)
    dispatch_batch(worker_id="test")
    receiver.wait_for(1)
    now = timezone.now()
    CallbackProfile.objects.filter(pk=old.pk).update(deleted_at=now - dt.timedelta(days=31))
    CallbackProfile.objects.filter(pk=recent.pk).update(deleted_at=now - dt.timedelta(days=1))
    retention_purge(now=now)
    assert not CallbackProfile.all_objects.filter(pk=old.pk).exists()
    assert not Delivery.objects.filter(profile_id=old.pk).exists()
    assert not DeliveryStats.objects.filter(profile_id=old.pk).exists()
    assert CallbackProfile.all_objects.filter(pk=recent.pk).exists()


def test_a_delivery_written_beside_the_delete_is_cancelled_when_claimed_not_leased_again(account, receiver):
    # given a delivery left pending for a deleted profile, as an event whose statement began before a
    # concurrent delete committed can leave on PostgreSQL (the delete's cancel did not see it yet)
    from callbacks.services.profiles import profile_delete

    profile = profile_for(account, receiver, name="Orders")
    profile_delete(profile=profile)
    event = emit(account)
    Delivery.objects.create(
        account=account, event=event, profile_id=profile.pk, event_type=event.type, next_attempt_at=timezone.now()
    )

    # when the engine claims it
    dispatch_batch(worker_id="test")

    # then it ends as cancelled, without a request or an attempt, instead of waiting leased forever
    delivery = Delivery.objects.get(profile_id=profile.pk)
    assert (delivery.state, delivery.leased_by, delivery.lease_expires_at) == ("cancelled", "", None)
    assert delivery.completed_at is not None
    assert not delivery.attempts.exists()
    assert receiver.requests == []
    # and a later claim finds nothing of it
    assert dispatch_batch(worker_id="other") == 0
