"""Failure notices with flood control: the first failure of a streak at once, then hourly digests."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction

from alerts.enqueue import task_enqueue_on_commit
from alerts.failure_classes import failure_class_of
from alerts.models import FailureNoticeState
from callbacks import clock
from callbacks.models import Attempt, CallbackProfile, Delivery

logger = logging.getLogger(__name__)

DIGEST_INTERVAL = timedelta(hours=1)
DIGEST_BATCH_SIZE = 200
FAILURE_FIELDS = [
    "streak_started_at",
    "last_failure_at",
    "last_notice_at",
    "notices_sent",
    "pending_counts",
    "pending_since",
    "pending_last_attempt_id",
]


def failure_record(
    *, delivery: Delivery, attempt: Attempt | None, failure_class: str, now: datetime | None = None
) -> str:
    """Count one failed attempt; queue its notice when it opens a streak. Returns "notice" or "counted".

    Cheap by design (one locked row): the delivery loop calls it for every failed attempt.
    """
    now = now or clock.now()
    failure = failure_class_of(failure_class=failure_class, status=attempt.response_status if attempt else None)
    with transaction.atomic():
        # One read: the locked state row (not the profile's, which the engine keeps updating) and
        # the profile's last success as stored now.
        locked = FailureNoticeState.objects.select_for_update(of=("self",)).select_related("profile")
        state = locked.filter(profile_id=delivery.profile_id).first()
        if state is None:
            FailureNoticeState.objects.get_or_create(profile_id=delivery.profile_id)
            state = locked.get(profile_id=delivery.profile_id)
        last_success_at = state.profile.last_success_at
        streak_over = (
            state.streak_started_at is None
            or state.last_failure_at is None
            or (last_success_at is not None and last_success_at > state.last_failure_at)
        )
        if streak_over:
            state.streak_started_at = now
        state.last_failure_at = now
        quiet = state.last_notice_at is None or now - state.last_notice_at >= DIGEST_INTERVAL
        if streak_over and quiet:
            state.last_notice_at = now
            state.notices_sent += 1
            outcome = "notice"
            task_enqueue_on_commit(
                "alerts.tasks.failure_notice_send", str(delivery.pk), str(attempt.pk) if attempt else None, failure
            )
        else:
            state.pending_counts = {**state.pending_counts, failure: state.pending_counts.get(failure, 0) + 1}
            state.pending_since = state.pending_since or now
            state.pending_last_attempt_id = attempt.pk if attempt else state.pending_last_attempt_id
            outcome = "counted"
        state.save(update_fields=FAILURE_FIELDS)
    return outcome


def failure_digests_flush(*, now: datetime | None = None) -> int:
    """Queue a digest for each profile with failures counted and no notice in the last hour; returns how many."""
    now = now or clock.now()
    due = (
        FailureNoticeState.objects.filter(pending_since__isnull=False)
        .exclude(last_notice_at__gt=now - DIGEST_INTERVAL)
        .values_list("pk", flat=True)[:DIGEST_BATCH_SIZE]
    )
    queued = 0
    for state_id in list(due):
        with transaction.atomic():
            state = FailureNoticeState.objects.select_for_update().filter(pk=state_id).first()
            if state is None or state.pending_since is None:
                continue
            counts, since, last_attempt_id = state.pending_counts, state.pending_since, state.pending_last_attempt_id
            state.pending_counts, state.pending_since, state.pending_last_attempt_id = {}, None, None
            state.last_notice_at = now
            state.notices_sent += 1
            state.save()
            task_enqueue_on_commit(
                "alerts.tasks.failure_digest_send",
                str(state.profile_id),
                counts,
                since.isoformat(),
                now.isoformat(),
                str(last_attempt_id) if last_attempt_id else None,
            )
            queued += 1
    if queued:
        logger.info("failure_notice.digests_queued", extra={"count": queued})
    return queued


def failure_streak_end(*, profile: CallbackProfile) -> None:
    """The profile recovered: its next failure opens a new streak (and gets its notice at once)."""
    FailureNoticeState.objects.filter(profile=profile).update(streak_started_at=None)


def profile_abnormal_record(*, profile: CallbackProfile, reason: str) -> None:
    """Queue the notice that the profile turned abnormal and will no longer be called."""
    task_enqueue_on_commit("alerts.tasks.profile_abnormal_notice_send", str(profile.pk), reason)


def profile_recovered_record(*, profile: CallbackProfile) -> None:
    """End the failure streak and queue the notice that the profile is called again."""
    failure_streak_end(profile=profile)
    task_enqueue_on_commit("alerts.tasks.profile_recovered_notice_send", str(profile.pk))
