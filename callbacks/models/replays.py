"""A large replay, run in the background: what it selects and how far it has got."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from callbacks.models.accounts import Account
from callbacks.models.profiles import CallbackProfile


class ReplayJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="replay_jobs")
    # Empty: every profile of the account. Deleting the profile deletes its replay (and its deliveries).
    profile = models.ForeignKey(CallbackProfile, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, help_text="The state of the deliveries replayed.")
    since = models.DateTimeField(null=True, blank=True)
    until = models.DateTimeField(help_text="Deliveries created before this (at most when the job was asked for).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(help_text="Deliveries matching when the job was asked for.")
    done = models.PositiveIntegerField(default=0)
    last_delivery_id = models.UUIDField(null=True, blank=True, help_text="Where the next chunk starts.")
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    progressed_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of its task.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"replay {self.id} ({self.done}/{self.total}, {self.status})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)
