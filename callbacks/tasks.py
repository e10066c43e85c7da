"""django-q2 entry points of the delivery engine: the wake, the help, the sweep and the purge. Thin.

The database is the source of truth: a wake-up only shortens the wait. Losing every queued task
loses no delivery, because `dispatch_sweep` runs every minute and finds due work in the database.
"""

from __future__ import annotations

import logging
from typing import Any

from django_q.models import Schedule

from callbacks.delivery import retention, wake
from callbacks.delivery.engine import dispatch_run
from callbacks.models import ReplayJob
from callbacks.services import replays

logger = logging.getLogger(__name__)

SWEEP_SCHEDULE_NAME = "callbacks.dispatch_sweep"
PURGE_SCHEDULE_NAME = "callbacks.retention_purge"


def _dispatch(*, linger_s: float | None = None) -> int:
    kwargs = {} if linger_s is None else {"linger_s": linger_s}
    result = dispatch_run(worker_id=wake.worker_id_new(), on_backlog=wake.help_request, **kwargs)
    if result.stopped:
        # What this worker handed back is due now: another cluster takes it at once (this one's
        # wake flag, if it holds one, would hold the wake back).
        wake.wake_flag_clear()
        wake.wake_request()
    elif result.budget_spent:
        wake.wake_request()
    return result.processed


def dispatch_on_wake() -> int:
    """A wake: deliver until no work is due (or the run's time budget is spent, then hand over)."""
    wake.wake_flag_clear()
    processed = _dispatch()
    logger.info("dispatch.wake_done", extra={"processed": processed})
    return processed


def dispatch_on_help() -> int:
    """A help: a worker joining a backlog, ending as soon as nothing is due (a help that waited in a
    queue past the backlog costs one look at the due index)."""
    return _dispatch(linger_s=0)


def dispatch_sweep() -> int:
    """The per-minute sweep: retries that fell due, expired leases, deferred batches, and replay jobs
    whose task was lost."""
    replays.replay_jobs_resume()
    return _dispatch()


def retention_purge() -> int:
    """The hourly schedule: attempts and event payloads older than CALLBACKS_RETENTION_DAYS go."""
    return retention.retention_purge()


def schedules_register(*args: Any, **kwargs: Any) -> None:
    """Create or update the engine's django-q2 schedules by name (post_migrate; idempotent)."""

    wanted = {
        SWEEP_SCHEDULE_NAME: {
            "func": "callbacks.tasks.dispatch_sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
        PURGE_SCHEDULE_NAME: {
            "func": "callbacks.tasks.retention_purge",
            "schedule_type": Schedule.HOURLY,
            "repeats": -1,
        },
    }
    for name, values in wanted.items():
        schedule = Schedule.objects.filter(name=name).first()
        if schedule is None:
            Schedule.objects.create(name=name, **values)
        elif any(getattr(schedule, field) != value for field, value in values.items()):
            Schedule.objects.filter(pk=schedule.pk).update(**values)


def replay_job_run(job_id: str) -> int:
    """A large replay: queue its deliveries again in chunks; returns how many."""
    job = ReplayJob.objects.select_related("account", "profile").filter(pk=job_id).first()
    if job is None:
        logger.info("replay.job_gone", extra={"job_id": job_id})
        return 0
    return replays.replay_job_run(job=job).done
