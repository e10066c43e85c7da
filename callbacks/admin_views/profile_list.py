"""Pieces of the callback list: the health pill with its reason and last Refresh, the statistics with
their per-event-type detail, the row's actions, the health filter and the delete prompt."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from callbacks.models import CallbackProfile
from callbacks.selectors import health as health_states

REFRESH_REFUSED = "Only owners and admins can run Refresh."


def status_block(profile: CallbackProfile) -> SafeString:
    """The pill, why (the last error when failing), and what the last Refresh found while it is news."""
    health = health_states.health_of(profile)
    reason = format_html('<span class="cc-reason">{}</span>', health.reason) if health.reason else ""
    check = ""
    if health.check:
        check = format_html(
            '<span class="cc-check {}" title="{}">{}</span>',
            "ok" if health.check_ok else "ko",
            f"{health.check_at:%Y-%m-%d %H:%M:%S %Z}" if health.check_at else "",
            health.check,
        )
    return format_html(
        '<span class="cc-status-cell" data-status-for="{}" data-health="{}">'
        '<span class="cc-status {}" title="{}">{}</span>{}{}</span>',
        profile.pk,
        health.state,
        health.state,
        health_states.MEANINGS[health.state],
        health.label,
        reason,
        check,
    )


def statistics_block(counts: dict | None) -> SafeString:
    """Delivered, failed and retrying over 24 hours and 30 days; per event type on hover or focus."""
    if not counts:
        return format_html('<span class="cc-muted">{}</span>', "No events yet")
    day, month = counts["day"], counts["month"]
    rows = format_html_join(
        "",
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((code, *day["types"].get(code, (0, 0, 0)), *numbers) for code, numbers in sorted(month["types"].items())),
    )
    return format_html(
        '<div class="cc-stats" tabindex="0" aria-label="Event statistics">'
        '<div class="cc-stats-summary">{}{}</div>'
        '<div class="cc-stats-detail" role="tooltip"><table><thead><tr><th>Event type</th>'
        '<th title="delivered in 24 hours">24 h ✓</th><th title="failed in 24 hours">24 h ✗</th>'
        '<th title="retrying, of the last 24 hours">24 h ↻</th><th title="delivered in 30 days">30 d ✓</th>'
        '<th title="failed in 30 days">30 d ✗</th><th title="retrying, of the last 30 days">30 d ↻</th></tr>'
        "</thead><tbody>{}</tbody></table></div></div>",
        _period_line("24 h", day),
        _period_line("30 days", month),
        rows,
    )


def _period_line(label: str, numbers: dict) -> SafeString:
    return format_html(
        '<span class="cc-muted">{}</span><span class="ok">{} delivered</span><span class="ko">{} failed</span>'
        '<span class="retrying">{} retrying</span>',
        label,
        numbers["delivered"],
        numbers["failed"],
        numbers["retrying"],
    )


def delete_prompt(profile: CallbackProfile) -> str:
    return f"Delete {profile.name}? Nothing more will be sent to {profile.url}."


def actions_block(profile: CallbackProfile, *, writer: bool) -> SafeString:
    """Refresh for everyone to see (pressed only by owners and admins), then Edit, Disable / Enable, Delete."""
    refresh_url = reverse("admin:callbacks_callbackprofile_refresh", args=[profile.pk])
    if not writer:
        refresh = format_html(
            '<button type="button" class="cc-button" disabled title="{}">↻ Refresh</button>', REFRESH_REFUSED
        )
        view = format_html(
            '<a class="cc-button" href="{}">View</a>',
            reverse("admin:callbacks_callbackprofile_change", args=[profile.pk]),
        )
        return format_html('<div class="cc-row-actions">{}{}</div>', refresh, view)
    refresh = format_html(
        '<button type="button" class="cc-button" data-refresh-url="{}" data-profile="{}">↻ Refresh</button>',
        refresh_url,
        profile.pk,
    )
    target = "disabled" if profile.status in ("enabled", "abnormal") else "enabled"
    # A button of the changelist's own form (forms cannot nest): it posts there with its CSRF token.
    toggle = format_html(
        '<button type="submit" class="cc-button" formaction="{}" formmethod="post" name="status" value="{}">{}</button>',
        reverse("admin:callbacks_callbackprofile_status", args=[profile.pk]),
        target,
        "Disable" if target == "disabled" else "Enable",
    )
    delete = format_html(
        '<a class="cc-button danger" href="{}" data-delete-prompt="{}">Delete</a>',
        reverse("admin:callbacks_callbackprofile_delete", args=[profile.pk]),
        delete_prompt(profile),
    )
    return format_html(
        '<div class="cc-row-actions">{}<a class="cc-button" href="{}">Edit</a>{}{}</div>',
        refresh,
        reverse("admin:callbacks_callbackprofile_change", args=[profile.pk]),
        toggle,
        delete,
    )


class HealthFilter(admin.SimpleListFilter):
    """The four health states, as the pill shows them."""

    title = "status"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return health_states.CHOICES

    def queryset(self, request, queryset):
        value = self.value()
        if value in health_states.STATES:
            return health_states.health_filter(queryset, value)
        return queryset
