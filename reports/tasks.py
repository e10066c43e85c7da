"""django-q2 entry points of the reports app. Thin: they call the services and log."""

from __future__ import annotations

import logging

from reports.services import reports_send_due

logger = logging.getLogger(__name__)


def reports_send_due_task() -> int:
    """The schedule's task: send whatever reports are due now; returns how many were sent."""
    sent = reports_send_due()
    if sent:
        logger.info("reports.due_sent", extra={"count": len(sent)})
    return len(sent)
