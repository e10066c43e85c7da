"""Queueing django-q2 tasks once the current transaction commits, so workers see the rows."""

from __future__ import annotations

from django.db import transaction


def task_enqueue_on_commit(func: str, *args: object, group: str = "alerts") -> None:
    """Queue `func(*args)` (a dotted path to a task taking ids) after the current transaction commits."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(func, *args, group=group))
