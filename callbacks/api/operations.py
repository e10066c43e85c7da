"""`/metrics`: the Prometheus text format, for an operator's scraper with `Authorization: Bearer <METRICS_TOKEN>`.

The counters of every process on this machine (prometheus-client's multiprocess files) and what the
database knows (due backlog, profiles by health), read at the scrape. Not there at all (404) while
METRICS_TOKEN is unset.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from callbacks import clock, metrics
from callbacks.selectors.operations import due_backlog, profiles_by_health


class DatabaseCollector:
    """Gauges read from the database at each scrape (one indexed query each)."""

    def collect(self):
        now = clock.now()
        backlog = due_backlog(now=now)
        yield GaugeMetricFamily(
            "callbacks_due_deliveries",
            "Pending deliveries due now and not leased (counted up to 100,000).",
            backlog.count,
        )
        age = (now - backlog.oldest_due_at).total_seconds() if backlog.oldest_due_at else 0.0
        yield GaugeMetricFamily(
            "callbacks_due_oldest_age_seconds", "How long the earliest due delivery has been due (0 when none).", age
        )
        profiles = GaugeMetricFamily("callbacks_profiles", "Callback profiles by health state.", labels=["state"])
        for state, count in profiles_by_health().items():
            profiles.add_metric([state], count)
        yield profiles


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    if not _authorized(request, token):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    directory = settings.PROMETHEUS_MULTIPROC_DIR
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    registry.register(DatabaseCollector())
    # The text format the scraper asks for (Accept), as prometheus-client's own server answers.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    with metrics.files_locked(directory):
        metrics.ended_processes_fold(directory)
        body = encode(registry)
    return HttpResponse(body, content_type=content_type)
