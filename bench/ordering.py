"""The `ordering` section: per-key ordering against none, on the same receiver.

Events of 1,000 keys (`message_id`), each key's numbered in order, are written while no worker runs;
then a cluster delivers them to the scripted receiver's `/ordered/10`, which fails 10 % of first
attempts (retried) and counts every event that arrives before an earlier one of its key was answered
2xx. The same events go once to a profile without ordering and once to one ordered per key.
"""

from __future__ import annotations

import time

from bench.scenarios import Stage, finished_wait, profiles_create, receiver_reset, requests_stats

ORDERING_KEYS = 1000
ORDERING_FAIL_PERCENT = 10
EMIT_CHUNK = 1000  # events per transaction


def _keyed_events_emit(account, *, count: int, keys: int) -> None:
    """`count` events round-robin over `keys` keys: key k's n-th event carries seq n."""
    from callbacks import event_types
    from callbacks.services.events import events_emit

    items = [
        (event_types.MESSAGE_STATUS, {"message_id": f"k{index % keys}", "seq": index // keys, "status": "sent"})
        for index in range(count)
    ]
    for first in range(0, count, EMIT_CHUNK):
        events_emit(account=account, items=items[first : first + EMIT_CHUNK])


def _round(stage: Stage, *, label: str, ordering: str, count: int, keys: int, url: str) -> dict:
    receiver_reset(url)
    target = f"{url.rstrip('/')}/ordered/{ORDERING_FAIL_PERCENT}"
    account, profiles = profiles_create(count=1, url_for=lambda _: target, ordering=ordering, max_in_flight=500)
    _keyed_events_emit(account, count=count, keys=keys)
    cluster = stage.cluster(f"ordering-{label}")
    started = time.monotonic()
    try:
        delivered = finished_wait(profiles, count, timeout_s=max(120, count / 50))
    finally:
        cluster.stop()
    seconds = time.monotonic() - started
    stats = requests_stats(url)
    arrivals = [at for times in stats["arrivals"].values() for at in times]
    span = (max(arrivals) - min(arrivals)) if arrivals else 0.0
    return {
        "delivered": delivered,
        "requests": stats["total"],
        "failed_first_attempts": stats["ordered"]["failed_first"],
        "out_of_order": stats["ordered"]["out_of_order"],
        "per_second": round(delivered / max(span, 1e-9)),
        "seconds_to_all_delivered": round(seconds, 2),
    }


def section_ordering(stage: Stage, *, count: int, url: str, keys: int = ORDERING_KEYS) -> dict:
    keys = max(1, min(keys, count // 20))  # 20 events a key, as at the full size, when N is smaller
    unordered = _round(stage, label="none", ordering="none", count=count, keys=keys, url=url)
    ordered = _round(stage, label="per_key", ordering="per_key", count=count, keys=keys, url=url)
    return {
        "keys": keys,
        "none": unordered,
        "per_key": ordered,
        "per_key_out_of_order": ordered["out_of_order"],
        "per_key_percent_of_none": round(100 * ordered["per_second"] / max(unordered["per_second"], 1)),
    }
