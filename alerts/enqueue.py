"""Queueing django-q2 tasks once the current transaction commits, so workers see the rows."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def task_enqueue_on_commit(func: str, *args: object, group: str = "alerts") -> None:
    """Queue `func(*args)` (a dotted path to a task taking ids) after the current transaction commits.

    A broker that is down loses this notice (logged) rather than failing the caller, which is often
    the delivery loop or a request that has already committed its work.
    """
    from django_q.tasks import async_task

    def enqueue() -> None:
        try:
            async_task(func, *args, group=group)
        except Exception:
            logger.exception("alerts.enqueue_failed", extra={"task": func})

    transaction.on_commit(enqueue)
