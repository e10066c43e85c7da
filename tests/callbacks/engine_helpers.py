"""Helpers of the engine suites: a profile subscribed to a receiver, an event sent through the engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from callbacks import event_types
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import Account, CallbackProfile, Delivery, Event
from callbacks.services.events import event_emit
from tests.factories import CallbackProfileFactory
from tests.receivers import Receiver, RecordedRequest

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def profile_for(account: Account, receiver: Receiver | None, *codes: str, path: str = "/hooks", **fields):
    """A profile of `account` calling `receiver`, subscribed to `codes` (default message.status)."""
    if receiver is not None:
        fields.setdefault("url", receiver.url(path))
    profile: CallbackProfile = CallbackProfileFactory(account=account, **fields)
    profile.event_types.set(codes or [event_types.MESSAGE_STATUS])
    return profile


def emit(account: Account, data: dict | None = None, type: str = event_types.MESSAGE_STATUS, **extra) -> Event:
    return event_emit(account=account, type=type, data={} if data is None else data, **extra)


def send_one(account: Account, receiver: Receiver, data: dict | None = None, **extra) -> tuple[RecordedRequest, Event]:
    """Emit one event, run a batch, and return what the receiver got."""
    before = len(receiver.requests)
    event = emit(account, data, **extra)
    dispatch_batch(worker_id="test")
    return receiver.wait_for(before + 1)[-1], event


def delivery_of(event: Event) -> Delivery:
    return Delivery.objects.get(event=event)


ROOT = Path(__file__).resolve().parents[2]


def worker_run(module: str, environment: dict, *arguments: str) -> dict:
    """Run a worker script (`python -m module arguments`) to completion; the JSON of its last line."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1]) if completed.stdout.strip() else {}
