"""The report e-mail as a recipient gets it: text and HTML parts, the inline chart, the CSV attachment."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import pytest
from django.core import mail
from PIL import Image

from callbacks import event_types
from reports.building import report_build
from reports.chart import DELIVERED, FAILED, _tick_step, chart_png
from reports.emails import report_html_preview, report_text
from reports.periods import period_latest
from reports.services import report_settings_update, reports_send_due
from tests.factories import AccountFactory, CallbackProfileFactory
from tests.reports.factories import DeliveryStatsFactory

UTC = dt.UTC
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")


@pytest.fixture
def sent_report(db):
    """A daily Kolkata report (2026-06-09 17:00 .. 2026-06-10 17:00 IST) over two profiles, and its e-mail."""
    account = AccountFactory(name="Acme <Shop>", timezone="Asia/Kolkata")
    report_settings_update(
        account=account,
        frequencies=["daily"],
        recipients="ops@example.com, cfo@example.com",
        now=dt.datetime(2026, 6, 9, 12, tzinfo=UTC),
    )
    orders = CallbackProfileFactory(account=account, name="Orders <main>")
    crm = CallbackProfileFactory(account=account, name="=CRM hook")
    # 12:00 UTC is 17:30 IST, the first whole UTC hour of the period
    DeliveryStatsFactory(profile=orders, hour=dt.datetime(2026, 6, 9, 12, tzinfo=UTC), delivered=120, failed=0)
    DeliveryStatsFactory(
        profile=orders,
        event_type=event_types.OTP_SENT,
        hour=dt.datetime(2026, 6, 10, 3, tzinfo=UTC),
        delivered=400,
        failed=25,
        failed_attempts=60,
        failures_by_class={"connect": 45, "http_status": 15},
    )
    DeliveryStatsFactory(profile=crm, hour=dt.datetime(2026, 6, 10, 3, tzinfo=UTC), delivered=55, failed=0)
    sent = reports_send_due(now=dt.datetime(2026, 6, 10, 11, 31, tzinfo=UTC))
    assert len(sent) == 1
    return sent[0], mail.outbox[0]


def test_the_email_goes_to_the_recipients_with_a_telling_subject(sent_report):
    report, message = sent_report

    assert message.to == ["ops@example.com", "cfo@example.com"]
    assert message.subject == (
        "[Callback Center] Daily callback report for Acme <Shop>, 2026-06-10: 575 delivered, 25 failed"
    )
    assert report.recipients == ["ops@example.com", "cfo@example.com"]


def test_the_email_has_text_html_inline_chart_and_csv(sent_report):
    _, message = sent_report

    # when the MIME message is built as the mail server receives it
    mime = message.message()

    # then: mixed(alternative(text, related(html, png)), csv)
    assert mime.get_content_type() == "multipart/mixed"
    alternative, attachment = mime.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.get_payload()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<report-chart>"
    assert 'src="cid:report-chart"' in html.get_payload(decode=True).decode()
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename() == "callback-report-daily-2026-06-10.csv"


def test_the_text_part_tells_the_numbers_in_local_time(sent_report):
    _, message = sent_report

    text = message.body

    assert "Period: Tue 9 Jun 2026 17:00 to Wed 10 Jun 2026 17:00 (Asia/Kolkata, 24 h)" in text
    assert "Delivered:     575" in text
    assert "Failed:        25" in text
    assert "Success rate:  95.8 %" in text
    # 03:00 UTC is 08:30 IST; 480 callbacks that hour
    assert "Busiest hour:  Wed 10 Jun 08:30–09:30 (480 callbacks)" in text
    assert "- Orders <main>: 520 delivered, 25 failed (95.4 %)" in text
    assert "- =CRM hook: 55 delivered, 0 failed (100.0 %)" in text
    assert "- connect: 45 (75.0 %)" in text
    assert "- http status: 15 (25.0 %)" in text
    assert "Change which reports you receive: http://127.0.0.1:8000/admin/reports/" in text


def test_the_html_part_escapes_names(sent_report):
    _, message = sent_report

    html = message.alternatives[0].content

    assert "Orders &lt;main&gt;" in html
    assert "Acme &lt;Shop&gt;" in html
    assert "<main>" not in html


def test_the_chart_is_a_png_with_delivered_and_failed_bars(sent_report):
    _, message = sent_report
    png = message.message().get_payload()[0].get_payload()[1].get_payload()[1].get_payload(decode=True)

    opened = Image.open(io.BytesIO(png))
    image = opened.convert("RGB")

    assert (opened.format, opened.size) == ("PNG", (720, 300))
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 16)}
    assert DELIVERED in colours
    assert FAILED in colours


def test_a_chart_without_failures_has_no_failed_bars():
    png = chart_png(series=[{"label": "17:00", "delivered": 5, "failed": 0}] * 24, title="No failures")

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 16)}

    assert DELIVERED in colours
    # only the legend's swatch is red: a 11 × 11 square
    assert sum(count for count, colour in image.getcolors(maxcolors=1 << 16) if colour == FAILED) == 121


def test_the_failed_bar_stands_where_the_failures_were():
    series = [{"label": str(hour), "delivered": 0, "failed": 0} for hour in range(24)]
    series[18]["failed"] = 10

    image = Image.open(io.BytesIO(chart_png(series=series, title="t"))).convert("RGB")

    red_columns = {x for x in range(image.width) for y in range(60, image.height) if image.getpixel((x, y)) == FAILED}
    slot = (720 - 64 - 16) / 24
    assert red_columns
    assert min(red_columns) >= 64 + 18 * slot and max(red_columns) < 64 + 19 * slot


def test_the_csv_has_per_profile_per_event_type_counts(sent_report):
    report, message = sent_report
    _, content, mimetype = message.attachments[0]

    rows = list(csv.DictReader(io.StringIO(content)))

    assert mimetype == "text/csv"
    assert [(row["profile_name"], row["event_type"], row["delivered"], row["failed"]) for row in rows] == [
        # a leading "=" would run as a spreadsheet formula: it is quoted as text
        ("'=CRM hook", event_types.MESSAGE_STATUS, "55", "0"),
        ("Orders <main>", event_types.MESSAGE_STATUS, "120", "0"),
        ("Orders <main>", event_types.OTP_SENT, "400", "25"),
    ]
    assert rows[2]["failed_attempts"] == "60"
    assert rows[2]["profile_id"] == next(
        row["profile_id"] for row in report.per_profile_counts if row["profile_name"] == "Orders <main>"
    )


@pytest.mark.parametrize(
    ("largest", "step"), [(0, 1), (3, 1), (5, 2), (38, 10), (41, 20), (99, 25), (1234, 500), (375_000, 100_000)]
)
def test_the_y_axis_reads_in_round_steps_that_reach_the_tallest_bar(largest, step):
    assert _tick_step(largest) == step
    assert step * 4 >= largest


def test_large_counts_read_with_thousands_separators(account):
    # given a day with 1,234,567 deliveries of one profile
    profile = CallbackProfileFactory(account=account, name="Orders")
    DeliveryStatsFactory(profile=profile, hour=dt.datetime(2026, 6, 10, 3, tzinfo=UTC), delivered=1_234_567)
    period = period_latest(frequency="daily", timezone="UTC", now=dt.datetime(2026, 6, 10, 18, tzinfo=UTC))

    # when the report is built and rendered
    report = report_build(account=account, period=period, now=period.end)

    # then both parts group the digits
    assert "Delivered:     1,234,567" in report_text(report=report)
    assert ">1,234,567<" in report_html_preview(report=report)


def test_a_busiest_hour_of_one_callback_reads_in_the_singular(account):
    # given a day with a single delivery
    profile = CallbackProfileFactory(account=account, name="Orders")
    DeliveryStatsFactory(profile=profile, hour=dt.datetime(2026, 6, 10, 3, tzinfo=UTC), delivered=1)
    period = period_latest(frequency="daily", timezone="UTC", now=dt.datetime(2026, 6, 10, 18, tzinfo=UTC))

    # when the report is built and rendered
    report = report_build(account=account, period=period, now=period.end)

    # then its busiest hour counts "1 callback", not "1 callbacks"
    assert "(1 callback)" in report_text(report=report)
    assert ">1 callback<" in report_html_preview(report=report)
