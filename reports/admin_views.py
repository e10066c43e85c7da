"""The "Reports" screen: which reports the account receives and where, and the history with charts.

Saving goes through `reports.services.report_settings_update`; the history through the reports
selectors; the chart is the one the e-mails carry (`reports.chart.chart_png`)."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from callbacks.admin_views.errors import service_errors_show
from callbacks.admin_views.scoping import account_required, may_write
from reports.building import report_csv
from reports.chart import chart_png
from reports.emails import report_csv_filename
from reports.models import Frequency, Report
from reports.periods import send_time_next
from reports.selectors import report_get, report_list
from reports.services import report_settings_get, report_settings_update

HISTORY_PAGE_SIZE = 20
SCHEDULES = {
    Frequency.DAILY: "every day at 17:00",
    Frequency.WEEKLY: "every Wednesday at 17:00",
    Frequency.MONTHLY: "on the 25th of every month at 17:00",
}


class ReportSettingsForm(forms.Form):
    frequencies = forms.MultipleChoiceField(
        required=False,
        choices=[(value, f"{label}: {SCHEDULES[value]}") for value, label in Frequency.choices],
        widget=forms.CheckboxSelectMultiple,
        label="Send me",
    )
    recipients = forms.CharField(
        required=False,
        label="To",
        widget=forms.TextInput(attrs={"placeholder": "reports@example.com, cfo@example.com", "size": 60}),
        help_text="Comma-separated, at most 5. Empty: the account's admin e-mail.",
    )


def reports_view(request: HttpRequest) -> HttpResponse:
    account = account_required(request)
    subscription = report_settings_get(account=account)
    form = ReportSettingsForm(
        request.POST or None,
        initial={"frequencies": subscription.frequencies, "recipients": ", ".join(subscription.recipients)},
    )
    writer = may_write(request)
    if request.method == "POST" and writer and form.is_valid():
        try:
            report_settings_update(
                account=account,
                frequencies=form.cleaned_data["frequencies"],
                recipients=form.cleaned_data["recipients"],
            )
        except ValidationError as error:
            service_errors_show(form, error)
        else:
            messages.success(request, "Your report settings are saved.")
            return HttpResponseRedirect(reverse("admin:reports_home"))
    now = timezone.now()
    zone = zoneinfo.ZoneInfo(account.timezone)
    next_sends = [
        (
            Frequency(frequency).label,
            send_time_next(frequency=frequency, timezone=account.timezone, now=now).astimezone(zone),
        )
        for frequency in subscription.frequencies
    ]
    history = Paginator(report_list(account=account), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **admin.site.each_context(request),
        "title": "Reports",
        "form": form,
        "may_write": writer,
        "next_sends": next_sends,
        "account_timezone": account.timezone,
        "effective_recipients": subscription.effective_recipients,
        "history": history,
    }
    return TemplateResponse(request, "admin/reports/reports.html", context)


def _report(request: HttpRequest, report_id) -> Report:
    report = report_get(account=account_required(request), report_id=report_id)
    if report is None:
        raise Http404("No such report.")
    return report


def report_detail_view(request: HttpRequest, report_id) -> HttpResponse:
    report = _report(request, report_id)
    zone = zoneinfo.ZoneInfo(report.timezone)
    context = {
        **admin.site.each_context(request),
        "title": f"{report.get_frequency_display()} report",
        "report": report,
        "period_start": report.period_start.astimezone(zone),
        "period_end": report.period_end.astimezone(zone),
    }
    return TemplateResponse(request, "admin/reports/report_detail.html", context)


def report_chart_view(request: HttpRequest, report_id) -> HttpResponse:
    report = _report(request, report_id)
    title = f"{report.get_frequency_display()} report: delivered and failed callbacks"
    return HttpResponse(chart_png(series=report.chart_series, title=title), content_type="image/png")


def report_csv_view(request: HttpRequest, report_id) -> HttpResponse:
    report = _report(request, report_id)
    response = HttpResponse(report_csv(report=report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{report_csv_filename(report=report)}"'
    return response
