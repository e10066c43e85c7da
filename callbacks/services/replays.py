"""Replaying a range of finished deliveries: counted against the account's quota, queued again at
once when small, by a background job (`ReplayJob`, a django-q2 task) when large."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django_q.tasks import async_task

from callbacks import clock
from callbacks.delivery.wake import wake_request_on_commit
from callbacks.models import Account, CallbackProfile, Delivery, ReplayJob
from callbacks.services.deliveries import not_in_flight, with_batches
from callbacks.services.quotas import quotas_of

logger = logging.getLogger(__name__)

REPLAYABLE_STATES = (Delivery.State.FAILED, Delivery.State.DELIVERED, Delivery.State.CANCELLED)
REPLAY_JOB_TASK = "callbacks.tasks.replay_job_run"
CREATED_ORDER = ("created_at", "event_id", "pk")  # the order per-key ordering follows
REPLAY_CHUNK_ROWS = 500  # one short write transaction each: producers and the engine get their turn between
REPLAY_STALL_S = 300  # a job whose task shows no progress this long is queued again (a chunk takes well under 1 s)
REPLAY_RESUME_MAX = 100  # per sweep


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """`count`: deliveries matching (a dry run), queued again (small replays) or to be (`job`)."""

    count: int
    limit: int
    job: ReplayJob | None = None


def replay_selection(
    *,
    account: Account,
    profile: CallbackProfile | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    state: str | None = None,
) -> QuerySet[Delivery]:
    """The deliveries a replay would send again: the account's in `state` (default failed), created in
    [since, until), of profiles that are enabled (and not deleted)."""
    state = state or Delivery.State.FAILED
    if state not in REPLAYABLE_STATES:
        raise ValidationError({"state": f"Replay deliveries that are one of: {', '.join(REPLAYABLE_STATES)}."})
    rows = Delivery.objects.filter(
        account=account, state=state, profile__status=CallbackProfile.Status.ENABLED, profile__deleted_at__isnull=True
    )
    if profile is not None:
        rows = rows.filter(profile=profile)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return rows


def _requeue(rows: QuerySet[Delivery], now: datetime) -> int:
    # A delivery sent in a batch goes again with its whole batch: the same `webhook-id` and items.
    return (
        with_batches(rows)
        .filter(not_in_flight(now))
        .update(
            state=Delivery.State.PENDING, next_attempt_at=now, completed_at=None, lease_expires_at=None, leased_by=""
        )
    )


def deliveries_replay(
    *,
    account: Account,
    profile: CallbackProfile | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    state: str | None = None,
    dry_run: bool = False,
) -> ReplayOutcome:
    """Send a range of finished deliveries again (they keep their ids). `dry_run` counts only.

    Over the account's replay quota: refused with the count. Over CALLBACKS_REPLAY_INLINE_MAX: a
    `ReplayJob` queues them in the background (its progress is on the job)."""
    rows = replay_selection(account=account, profile=profile, since=since, until=until, state=state)
    limit = quotas_of(account).replay
    count = rows.count()
    if dry_run:
        return ReplayOutcome(count=count, limit=limit)
    if count > limit:
        raise ValidationError(
            {
                "non_field_errors": [
                    f"{count:,} deliveries match this range; one replay can send at most {limit:,} (the account's "
                    "quota): narrow the range, or ask an operator to raise the quota."
                ]
            }
        )
    now = clock.now()
    if count > settings.CALLBACKS_REPLAY_INLINE_MAX:
        with transaction.atomic():
            job = ReplayJob.objects.create(
                account=account,
                profile=profile,
                state=state or Delivery.State.FAILED,
                since=since,
                until=min(until, now) if until is not None else now,
                total=count,
            )
            _job_queue(job)
        logger.info("delivery.replay_job_queued", extra={"account_id": str(account.pk), "job_id": str(job.pk)})
        return ReplayOutcome(count=count, limit=limit, job=job)
    with transaction.atomic():
        replayed = _requeue(Delivery.objects.filter(pk__in=rows.values("pk")), now)
        if replayed:
            wake_request_on_commit()
    logger.info("delivery.replay_requested", extra={"account_id": str(account.pk), "count": replayed})
    return ReplayOutcome(count=replayed, limit=limit)


def _job_queue(job: ReplayJob) -> None:
    transaction.on_commit(lambda: async_task(REPLAY_JOB_TASK, str(job.pk), task_name=f"replay-{job.pk}"))


def _after(delivery_id: Any) -> Q:
    """The deliveries after this one in created order (all of them but those up to it, if it is gone)."""
    cursor = Delivery.objects.filter(pk=delivery_id).values("created_at", "event_id").first()
    if cursor is None:
        return Q(pk__gt=delivery_id)
    created_at, event_id = cursor["created_at"], cursor["event_id"]
    return (
        Q(created_at__gt=created_at)
        | Q(created_at=created_at, event_id__gt=event_id)
        | Q(created_at=created_at, event_id=event_id, pk__gt=delivery_id)
    )


def replay_job_run(*, job: ReplayJob) -> ReplayJob:
    """Queue a job's deliveries again, REPLAY_CHUNK_ROWS per transaction in created order (per-key
    ordering sends each key's in that order), recording how far it got after each: a job that stops
    midway resumes where it was. Each delivery is counted once, even if two runs of one job overlap
    (only a row still in the replayed state is queued again)."""
    now = clock.now()
    ReplayJob.objects.filter(pk=job.pk).update(status=ReplayJob.Status.RUNNING, started_at=now, progressed_at=now)
    rows = replay_selection(account=job.account, profile=job.profile, since=job.since, until=job.until, state=job.state)
    cursor = job.last_delivery_id
    try:
        while True:
            chunk = rows.order_by(*CREATED_ORDER)
            if cursor is not None:
                chunk = chunk.filter(_after(cursor))
            ids = list(chunk.values_list("pk", flat=True)[:REPLAY_CHUNK_ROWS])
            if not ids:
                break
            with transaction.atomic():
                now = clock.now()
                replayed = _requeue(rows.filter(pk__in=ids), now)
                cursor = ids[-1]
                ReplayJob.objects.filter(pk=job.pk).update(
                    done=F("done") + replayed, last_delivery_id=cursor, progressed_at=now
                )
                if replayed:
                    wake_request_on_commit()
    except Exception as error:
        ReplayJob.objects.filter(pk=job.pk).update(
            status=ReplayJob.Status.FAILED, error=repr(error)[:300], finished_at=clock.now()
        )
        raise
    ReplayJob.objects.filter(pk=job.pk).update(status=ReplayJob.Status.DONE, finished_at=clock.now())
    job.refresh_from_db()
    logger.info("delivery.replay_job_done", extra={"job_id": str(job.pk), "done": job.done})
    return job


def replay_jobs_resume(*, stalled_after_s: float = REPLAY_STALL_S) -> int:
    """Queue again the jobs whose task shows no sign of life (lost with the queue, or its worker killed);
    the per-minute sweep calls this. Returns how many."""
    now = clock.now()
    stalled_before = now - timedelta(seconds=stalled_after_s)
    stalled = ReplayJob.objects.filter(status__in=(ReplayJob.Status.QUEUED, ReplayJob.Status.RUNNING)).filter(
        Q(progressed_at__lt=stalled_before) | Q(progressed_at__isnull=True, created_at__lt=stalled_before)
    )
    resumed = 0
    for job in stalled[:REPLAY_RESUME_MAX]:
        with transaction.atomic():
            # Marked alive first, so the next sweep does not queue it again while this one waits.
            if ReplayJob.objects.filter(pk=job.pk, progressed_at=job.progressed_at).update(progressed_at=now):
                _job_queue(job)
                resumed += 1
    if resumed:
        logger.info("delivery.replay_jobs_resumed", extra={"count": resumed})
    return resumed
