"""Build one report and print it, or write it to a file, without sending or storing anything."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from callbacks.management.account_lookup import account_named
from reports.building import report_build
from reports.emails import report_email_compose, report_html_preview, report_text
from reports.models import Frequency
from reports.periods import period_ending_at, period_latest, send_time_next
from reports.services import report_settings_get


class Command(BaseCommand):
    help = (
        "Preview a report: prints the plain-text e-mail, or writes the HTML (chart embedded) with "
        "--output file.html, or the whole message with --output file.eml. Nothing is sent or stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="The account's id or exact name.")
        parser.add_argument("--frequency", required=True, choices=Frequency.values)
        parser.add_argument("--output", help="Write to this file: .html for the HTML part, .eml for the message.")
        parser.add_argument(
            "--period",
            choices=["latest", "current"],
            default="latest",
            help="latest: the last complete period (default); current: the one in progress, so far.",
        )
        parser.add_argument("--at", help="Pretend it is this ISO 8601 time (default: now).")

    def handle(self, *args, **options) -> None:
        account = account_named(options["account"])
        frequency = options["frequency"]
        now = timezone.now()
        if options["at"]:
            try:
                now = dt.datetime.fromisoformat(options["at"])
            except ValueError:
                raise CommandError(f"--at “{options['at']}” is not an ISO 8601 time.") from None
            if timezone.is_naive(now):
                now = now.replace(tzinfo=dt.UTC)
        if options["period"] == "current":
            end = send_time_next(frequency=frequency, timezone=account.timezone, now=now)
            period = period_ending_at(frequency=frequency, timezone=account.timezone, end=end)
        else:
            period = period_latest(frequency=frequency, timezone=account.timezone, now=now)
        report = report_build(account=account, period=period, now=now)
        recipients = report_settings_get(account=account).effective_recipients

        output = options["output"]
        if not output:
            self.stdout.write(report_text(report=report))
            return
        path = Path(output)
        if path.suffix.lower() == ".eml":
            path.write_bytes(report_email_compose(report=report, recipients=recipients).message().as_bytes())
        else:
            path.write_text(report_html_preview(report=report), encoding="utf-8")
        self.stdout.write(
            f"Wrote the {frequency} report of “{account.name}” for {period.start:%Y-%m-%d %H:%M} – "
            f"{period.end:%Y-%m-%d %H:%M} UTC to {path} (not sent)."
        )
