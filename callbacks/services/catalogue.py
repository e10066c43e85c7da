"""Keeps the EventType table in step with the registry in `callbacks.event_types`."""

from __future__ import annotations

from typing import Any

from callbacks import event_types
from callbacks.models import EventType


def event_types_sync() -> int:
    """Create or update one EventType row per registry entry; returns how many rows changed."""
    changed = 0
    existing = {row.code: row for row in EventType.objects.all()}
    for spec in event_types.REGISTRY:
        row = existing.get(spec.code)
        values = {"category": spec.category, "description": spec.description, "example": spec.example}
        if row is None:
            EventType.objects.create(code=spec.code, **values)
            changed += 1
        elif any(getattr(row, name) != value for name, value in values.items()):
            EventType.objects.filter(code=spec.code).update(**values)
            changed += 1
    return changed


def event_types_sync_after_migrate(*args: Any, using: str = "default", **kwargs: Any) -> None:
    event_types_sync()
