"""Reading the metrics every process of this test run wrote (prometheus-client's multiprocess files)."""

from __future__ import annotations

from django.conf import settings
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector


def metric_value(name: str, **labels: str) -> float:
    """The sum over processes of one sample, e.g. `metric_value("callbacks_reports_sent_total", frequency="daily")`."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    return registry.get_sample_value(name, labels) or 0.0
