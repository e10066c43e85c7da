"""`manage.py report_preview`: one report printed or written, nothing sent or stored."""

from __future__ import annotations

import base64
import datetime as dt
import email
import io
import re

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from PIL import Image

from reports.models import Report
from reports.services import report_settings_update
from tests.factories import CallbackProfileFactory
from tests.reports.factories import DeliveryStatsFactory

UTC = dt.UTC


@pytest.fixture
def busy_account(account):
    account.timezone = "America/New_York"
    account.save()
    profile = CallbackProfileFactory(account=account, name="Orders")
    # Wednesday 2026-06-03 17:00 EDT .. 2026-06-10 17:00 EDT is 21:00 UTC .. 21:00 UTC
    DeliveryStatsFactory(profile=profile, hour=dt.datetime(2026, 6, 5, 14, tzinfo=UTC), delivered=70, failed=7)
    return account


def test_preview_prints_the_text_and_sends_nothing(busy_account):
    out = io.StringIO()

    call_command(
        "report_preview",
        "--account",
        busy_account.name,
        "--frequency",
        "weekly",
        "--at",
        "2026-06-12T12:00:00+00:00",
        stdout=out,
    )

    text = out.getvalue()
    assert "Weekly callback report for" in text
    assert "Period: Wed 3 Jun 2026 17:00 to Wed 10 Jun 2026 17:00 (America/New_York, 168 h)" in text
    assert "- Orders: 70 delivered, 7 failed (90.9 %)" in text
    assert mail.outbox == []
    assert Report.objects.count() == 0


def test_preview_writes_html_with_the_chart_embedded(busy_account, tmp_path):
    target = tmp_path / "report.html"

    call_command(
        "report_preview",
        "--account",
        str(busy_account.pk),
        "--frequency",
        "weekly",
        "--at",
        "2026-06-12T12:00:00",
        "--output",
        str(target),
        stdout=io.StringIO(),
    )

    html = target.read_text()
    chart = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert chart is not None
    assert Image.open(io.BytesIO(base64.b64decode(chart.group(1)))).size == (720, 300)
    assert ">70<" in html


def test_preview_writes_the_whole_message(busy_account, tmp_path):
    report_settings_update(account=busy_account, frequencies=["weekly"], recipients="cfo@example.com")
    target = tmp_path / "report.eml"

    call_command(
        "report_preview",
        "--account",
        busy_account.name,
        "--frequency",
        "weekly",
        "--at",
        "2026-06-12T12:00:00Z",
        "--output",
        str(target),
        stdout=io.StringIO(),
    )

    message = email.message_from_bytes(target.read_bytes())
    assert message["To"] == "cfo@example.com"
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "text/csv",
    ]
    assert mail.outbox == []


def test_preview_of_an_unknown_account_fails_clearly(db):
    with pytest.raises(CommandError, match="No account with id or name “Nobody”"):
        call_command("report_preview", "--account", "Nobody", "--frequency", "daily", stdout=io.StringIO())
