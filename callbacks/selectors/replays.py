"""Reads of replay jobs, scoped to one account."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from callbacks.models import Account, ReplayJob


def replay_job_list(*, account: Account) -> QuerySet[ReplayJob]:
    """The account's replay jobs, newest first."""
    return ReplayJob.objects.filter(account=account).order_by("-created_at")


def replay_job_get(*, account: Account, job_id: Any) -> ReplayJob | None:
    return ReplayJob.objects.filter(account=account, pk=job_id).first()
