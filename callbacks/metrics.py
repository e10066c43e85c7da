"""Every metric the processes export, defined once (`/metrics`, docs/operations.md lists them).

prometheus-client in its multiprocess mode: each gunicorn and qcluster process writes its counts to
files in PROMETHEUS_MULTIPROC_DIR (set by the settings before this module is imported) and a scrape
adds them up. What the database knows (the due backlog, profiles by health state) is read at scrape
time by `callbacks.selectors.operations`, from indexes, not counted here.

A process that ends (a recycled worker, a restarted one) leaves its files behind; a scrape folds them
into one file per kind (`ended_processes_fold`), so the folder and the scrape's cost stay the size of
the processes running, not of every process that ever ran.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import Counter, Histogram
from prometheus_client.mmap_dict import MmapedDict

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


# The kinds of file whose values add up across processes (this project keeps no gauge in files).
FOLDED_KINDS = ("counter", "histogram")
ENDED = "ended"  # in place of a process id: the file holding the counts of processes that ended


@contextlib.contextmanager
def files_locked(directory: str) -> Iterator[None]:
    """One scrape at a time reads and folds the files of `directory` (a folded file is never read twice)."""
    descriptor = os.open(os.path.join(directory, "scrape.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def ended_processes_fold(directory: str) -> int:
    """Add the counts in the files of processes that have ended to one file per kind, then remove
    theirs; returns how many files went. Call inside `files_locked`.

    A process is looked up by the id in its file's name, so the folder must belong to one machine (one
    process-id namespace), as prometheus-client's multiprocess mode asks anyway. Each file is removed
    just after its counts were added: a crash in between counts that file twice, never loses it."""
    folded = 0
    for kind in FOLDED_KINDS:
        ended = [path for path in Path(directory).glob(f"{kind}_*.db") if _process_ended(path, kind)]
        if not ended:
            continue
        totals = MmapedDict(os.path.join(directory, f"{kind}_{ENDED}.db"))
        try:
            for path in ended:
                for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(path)):
                    total, _ = totals.read_value(key)
                    totals.write_value(key, total + value, timestamp)
                path.unlink()
                folded += 1
        finally:
            totals.close()
    return folded


def _process_ended(path: Path, kind: str) -> bool:
    pid = path.stem[len(kind) + 1 :]
    if not pid.isdigit():
        return False  # the file of the ended ones
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # running, as another user
    return False
