"""E-mails with a plain-text and an HTML part, rendered from `templates/emails/<name>.txt|.html`."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from callbacks.text_checks import one_line

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[Callback Center] "


def email_send(*, to: list[str], subject: str, template: str, context: dict[str, Any]) -> bool:
    """Render `template` (text and HTML) and send one message to `to`; False when there is no one to send to.

    Errors of the mail server propagate, so the task fails visibly and the queue records it.
    """
    recipients = [address for address in to if address]
    if not recipients:
        return False
    context = {"site_url": settings.SITE_URL, "link": f"{settings.SITE_URL}/admin/", **context}
    message = EmailMultiAlternatives(
        subject=one_line(SUBJECT_PREFIX + subject),
        body=render_to_string(f"emails/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    message.send()
    logger.info("email.sent", extra={"template": template, "recipients": len(recipients)})
    return True
