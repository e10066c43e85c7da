"""Every metric the processes export, defined once (`/metrics`, docs/operations.md lists them).

prometheus-client in its multiprocess mode: each gunicorn and qcluster process writes its counts to
files in PROMETHEUS_MULTIPROC_DIR (set by the settings before this module is imported) and a scrape
adds them up. What the database knows (the due backlog, profiles by health state) is read at scrape
time by `callbacks.selectors.operations`, from indexes, not counted here.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

events_accepted = Counter("callbacks_events_accepted", "Events stored (a replayed idempotency key is not counted).")
events_refused = Counter(
    "callbacks_events_refused",
    "Events refused (nothing stored): by the HTTP status of the answer, or `item` for an item of a batch.",
    ["status"],
)
deliveries_finished = Counter(
    "callbacks_deliveries_finished",
    "Deliveries that reached an end, by outcome: delivered, failed, cancelled.",
    ["outcome"],
)
attempt_duration = Histogram(
    "callbacks_attempt_duration_seconds",
    "Duration of each HTTP attempt, by its outcome (delivered, retry, failed, gone, unknown).",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
failure_notices_sent = Counter(
    "callbacks_failure_notices_sent",
    "Failure notice e-mails sent, by kind: first, digest, abnormal, recovered.",
    ["kind"],
)
alerts_sent = Counter("callbacks_alerts_sent", "Alert notices sent, by channel: telegram, email.", ["channel"])
reports_sent = Counter("callbacks_reports_sent", "Reports e-mailed, by frequency.", ["frequency"])
