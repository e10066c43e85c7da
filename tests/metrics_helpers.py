"""Reading the metrics every process of this test run wrote: from the files, or through `/metrics`."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families


def metric_value(name: str, **labels: str) -> float:
    """The sum over processes of one sample, e.g. `metric_value("callbacks_reports_sent_total", frequency="daily")`."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    return registry.get_sample_value(name, labels) or 0.0


def scrape(token: str) -> dict[tuple[str, tuple], float]:
    """`GET /metrics` with the bearer token, parsed with prometheus-client's parser: every sample, keyed
    by (name, sorted labels)."""
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def sample(samples: dict, name: str, **labels: str) -> float:
    """One sample of a `scrape`, 0 when absent (a counter not yet incremented)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
