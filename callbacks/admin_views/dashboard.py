"""The dashboard's callbacks panels: delivered / failed charts and the profiles needing attention."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest

from callbacks.admin_views.scoping import account_current, may_write
from callbacks.admin_views.selectors import account_delivery_series, account_retrying
from callbacks.models import CallbackProfile
from callbacks.selectors import health

CHART_WIDTH = 600
CHART_HEIGHT = 150
PLOT_LEFT = 34  # room for the peak's label on the left
ATTENTION_LIMIT = 8


def bar_chart(series: list[tuple], label_every: int, label_format: str) -> dict:
    """Stacked delivered / failed bars laid out for an inline SVG (no chart library)."""
    count = len(series) or 1
    slot = (CHART_WIDTH - PLOT_LEFT) / count
    peak = max([delivered + failed for _, delivered, failed in series] + [1])
    bars = []
    for index, (moment, delivered, failed) in enumerate(series):
        ok_height = CHART_HEIGHT * delivered / peak
        ko_height = CHART_HEIGHT * failed / peak
        bars.append(
            {
                "x": round(PLOT_LEFT + index * slot + slot * 0.15, 1),
                "width": round(slot * 0.7, 1),
                "ok_y": round(CHART_HEIGHT - ok_height, 1),
                "ok_height": round(ok_height, 1),
                "ko_y": round(CHART_HEIGHT - ok_height - ko_height, 1),
                "ko_height": round(ko_height, 1),
                "label": moment.strftime(label_format) if index % label_every == 0 else "",
                "label_x": round(PLOT_LEFT + index * slot + slot / 2, 1),
                "title": f"{moment.strftime(label_format)}: {delivered} delivered, {failed} failed",
            }
        )
    return {
        "bars": bars,
        "peak": peak,
        "delivered": sum(row[1] for row in series),
        "failed": sum(row[2] for row in series),
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "plot_left": PLOT_LEFT,
    }


def _profiles_shown(request: HttpRequest) -> QuerySet[CallbackProfile]:
    """The current account's callbacks; every account's for an operator without one chosen."""
    account = account_current(request)
    if account is not None:
        return CallbackProfile.objects.filter(account=account)
    return CallbackProfile.objects.all() if request.user.is_superuser else CallbackProfile.objects.none()


def deliveries_panel_context(request: HttpRequest) -> dict:
    series = account_delivery_series(account=account_current(request))
    retrying = account_retrying(profile_ids=_profiles_shown(request).values("pk"))
    return {
        "day": {**bar_chart(series["day"], 4, "%H:00"), "retrying": retrying["day"]},
        "month": {**bar_chart(series["month"], 5, "%b %d"), "retrying": retrying["month"]},
    }


def profiles_panel_context(request: HttpRequest) -> dict:
    """How many callbacks are in each health state, and those failing or paused with why."""
    profiles = _profiles_shown(request)
    counts = health.health_counts(profiles)
    attention = health.needing_attention(profiles, limit=ATTENTION_LIMIT)
    return {
        "total": sum(counts.values()),
        "answering": counts.get(health.ENABLED, 0),
        "may_add": may_write(request),
        "states": [
            {"state": state, "label": health.LABELS[state], "count": counts.get(state, 0)} for state in health.STATES
        ],
        "profiles": [{"profile": profile, "health": health.health_of(profile)} for profile in attention],
    }
