"""List filters of the screens: a created-date range, and choices limited to the current account."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.dateparse import parse_date

from callbacks.text_checks import DATE_MAX_YEAR, DATE_MIN_YEAR, date_in_range


class DateRangeFilter(admin.FieldListFilter):
    """From / to dates (inclusive) in the filter column, in the server's time zone."""

    template = "admin/callback_center/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.parameter_from = f"{field_path}__from"
        self.parameter_to = f"{field_path}__to"
        super().__init__(field, request, params, model, model_admin, field_path)
        # "created at" reads as "Created" above the dates.
        self.title = str(self.title).removesuffix(" at")
        self.request_params = {key: value for key, value in request.GET.items()}

    def expected_parameters(self) -> list[str]:
        return [self.parameter_from, self.parameter_to]

    def _value(self, name: str):
        """The date asked for, or None; a value that is no date (in range) is ignored and said so."""
        value = self.used_parameters.get(name)
        if isinstance(value, list):
            value = value[-1] if value else None
        if not value:
            return None
        try:
            day = parse_date(value)
        except ValueError:
            day = None
        if day is None or not date_in_range(day):
            self.invalid.append(f"“{value}” is not a date between {DATE_MIN_YEAR}-01-01 and {DATE_MAX_YEAR}-12-31.")
            return None
        return day

    def queryset(self, request, queryset):
        self.invalid: list[str] = []
        start, end = self._value(self.parameter_from), self._value(self.parameter_to)
        for problem in self.invalid:
            messages.error(request, problem)
        zone = timezone.get_current_timezone()
        if start:
            queryset = queryset.filter(**{f"{self.field_path}__gte": datetime.combine(start, time.min, zone)})
        if end:
            end_exclusive = datetime.combine(end + timedelta(days=1), time.min, zone)
            queryset = queryset.filter(**{f"{self.field_path}__lt": end_exclusive})
        return queryset

    def choices(self, changelist):
        keep = {
            key: value
            for key, value in self.request_params.items()
            if key not in (self.parameter_from, self.parameter_to, "p")
        }
        yield {
            "from_name": self.parameter_from,
            "to_name": self.parameter_to,
            "from_value": self.request_params.get(self.parameter_from, ""),
            "to_value": self.request_params.get(self.parameter_to, ""),
            "keep": keep,
            "clear_url": changelist.get_query_string(remove=[self.parameter_from, self.parameter_to]),
        }


class RecentFilter(admin.SimpleListFilter):
    """Time windows for logs: last hour, 24 hours, 7 days, 30 days."""

    title = "time"
    parameter_name = "within"
    WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
    LABELS = {"1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
    field_name = "created_at"

    def lookups(self, request, model_admin):
        return list(self.LABELS.items())

    def queryset(self, request, queryset):
        window = self.WINDOWS.get(self.value() or "")
        if window is None:
            return queryset
        return queryset.filter(**{f"{self.field_name}__gte": timezone.now() - window})


def filter_titled(filter_class: type[admin.FieldListFilter], title: str) -> type[admin.FieldListFilter]:
    """A field's list filter under the title the screen uses for that column ("Status", not "state")."""

    class Titled(filter_class):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    return Titled
