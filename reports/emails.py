"""The report e-mail: plain text and HTML, the chart inline (multipart/related, cid:), the CSV attached.

multipart/mixed
  multipart/alternative
    text/plain
    multipart/related
      text/html           <img src="cid:report-chart">
      image/png           Content-ID: <report-chart>
  text/csv                attachment
"""

from __future__ import annotations

import base64
import datetime as dt
import zoneinfo
from email.mime.image import MIMEImage
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from callbacks.text_checks import one_line
from reports.building import report_csv
from reports.chart import chart_png
from reports.models import Report

CHART_CONTENT_ID = "report-chart"
SUBJECT_PREFIX = "[Callback Center] "
SETTINGS_VIEW_NAME = "admin:reports_home"


class RelatedImagesEmail(EmailMultiAlternatives):
    """An e-mail whose HTML alternative carries images it refers to by `cid:`."""

    def __init__(self, *args: Any, related_images: list[MIMEImage] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.related_images = related_images or []

    def _create_alternatives(self, msg):
        msg = super()._create_alternatives(msg)
        if not self.related_images or not msg.is_multipart():
            return msg
        parts = msg.get_payload()
        html_index = next((index for index, part in enumerate(parts) if part.get_content_type() == "text/html"), None)
        if html_index is None:
            return msg
        related = SafeMIMEMultipart(_subtype="related", encoding=self.encoding or settings.DEFAULT_CHARSET)
        related.attach(parts[html_index])
        for image in self.related_images:
            related.attach(image)
        parts[html_index] = related
        return msg


def _local(report: Report, moment: dt.datetime | None) -> dt.datetime | None:
    return moment.astimezone(zoneinfo.ZoneInfo(report.timezone)) if moment else None


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "n/a"


def _settings_url() -> str:
    try:
        return settings.SITE_URL + reverse(SETTINGS_VIEW_NAME)
    except NoReverseMatch:  # the screens are optional; the admin's front page always exists
        return settings.SITE_URL + "/admin/"


def report_context(*, report: Report, chart_src: str) -> dict[str, Any]:
    """What the templates show; `chart_src` is `cid:…` in the e-mail and a data: URI in a preview."""
    busiest_start = _local(report, report.busiest_hour)
    profiles = [
        {**row, "success_rate": _percent(row["delivered"], row["delivered"] + row["failed"])}
        for row in report.per_profile_counts
    ]
    failure_classes = [
        {"name": name.replace("_", " "), "count": count, "share": _percent(count, report.failed_attempt_count)}
        for name, count in report.failures_by_class.items()
    ]
    return {
        "site_url": settings.SITE_URL,
        "settings_url": _settings_url(),
        "account": report.account,
        "report": report,
        "frequency_label": report.get_frequency_display(),
        "period_start": _local(report, report.period_start),
        "period_end": _local(report, report.period_end),
        "period_hours": round((report.period_end - report.period_start).total_seconds() / 3600),
        "success_rate": _percent(report.delivered_count, report.total_count),
        "busiest_start": busiest_start,
        "busiest_end": busiest_start + dt.timedelta(hours=1) if busiest_start else None,
        "profiles": profiles,
        "failure_classes": failure_classes,
        "chart_src": chart_src,
        "csv_filename": report_csv_filename(report=report),
    }


def report_subject(*, report: Report) -> str:
    end = _local(report, report.period_end)
    return (
        f"{SUBJECT_PREFIX}{report.get_frequency_display()} callback report for {report.account.name}, "
        f"{end:%Y-%m-%d}: {report.delivered_count:,} delivered, {report.failed_count:,} failed"
    )


def report_csv_filename(*, report: Report) -> str:
    end = _local(report, report.period_end)
    return f"callback-report-{report.frequency}-{end:%Y-%m-%d}.csv"


def report_chart(*, report: Report) -> bytes:
    start, end = _local(report, report.period_start), _local(report, report.period_end)
    # Plain ASCII: the chart's built-in font has no en dash.
    title = f"Delivered and failed callbacks, {start:%d %b %H:%M} to {end:%d %b %Y %H:%M} ({report.timezone})"
    return chart_png(series=report.chart_series, title=title)


def report_html_preview(*, report: Report) -> str:
    """The HTML part with the chart embedded as a data: URI, to open in a browser."""
    chart = base64.b64encode(report_chart(report=report)).decode()
    return render_to_string(
        "emails/report.html", report_context(report=report, chart_src=f"data:image/png;base64,{chart}")
    )


def report_text(*, report: Report) -> str:
    return render_to_string("emails/report.txt", report_context(report=report, chart_src=""))


def report_email_compose(*, report: Report, recipients: list[str]) -> RelatedImagesEmail:
    """The message for `report`, ready to send."""
    context = report_context(report=report, chart_src=f"cid:{CHART_CONTENT_ID}")
    image = MIMEImage(report_chart(report=report), _subtype="png")
    image.add_header("Content-ID", f"<{CHART_CONTENT_ID}>")
    image.add_header("Content-Disposition", "inline", filename="chart.png")
    message = RelatedImagesEmail(
        subject=one_line(report_subject(report=report)),
        body=render_to_string("emails/report.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        related_images=[image],
    )
    message.attach_alternative(render_to_string("emails/report.html", context), "text/html")
    message.attach(report_csv_filename(report=report), report_csv(report=report), "text/csv")
    return message
