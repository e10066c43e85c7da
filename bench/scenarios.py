"""The benchmark's measured runs, each inside a real `qcluster` on the database Django points at.

Run by `bench.bench` as a child process (`python -m bench.scenarios ...`) whose
environment names a throw-away database; the fault suites call the same helpers in-process.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import django

STEADY_RATE_PER_S = 200
SLOW_ANSWER_MS = 10_000


def _django() -> None:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


@dataclass
class Stage:
    """Where a scenario runs: the environment of its qcluster children and a directory for logs."""

    environment: dict
    workdir: Path

    def cluster(self, name: str = "cluster", **overrides: str):
        from bench.harness import Cluster

        environment = {**self.environment, **overrides}
        return Cluster(environment, log_path=self.workdir / f"{name}.log").start()


def id_key(text: str) -> str:
    """A delivery id as 32 lowercase hex digits, however a header spelled it."""
    return re.sub(r"[^0-9a-f]", "", str(text).lower())[-32:]


def profiles_create(*, count: int, url_for: Callable[[int], str], account=None, **fields):
    """`count` enabled profiles subscribed to message.status, of `account` or of a fresh one."""
    from callbacks import event_types
    from callbacks.delivery.render.signing import signing_secret_generate
    from callbacks.models import Account, CallbackProfile

    if account is None:
        account = Account.objects.create(name=f"Bench {time.time_ns()}", admin_email="bench@example.com")
    profiles = []
    for index in range(count):
        profile = CallbackProfile.objects.create(
            account=account,
            name=f"bench {index}",
            url=url_for(index),
            signing_secret=signing_secret_generate(),
            **fields,
        )
        profile.event_types.set([event_types.MESSAGE_STATUS])
        profiles.append(profile)
    return account, profiles


EMIT_THREADS = 8


def _emit_share(account_id, first: int, count: int, rate_per_s: float | None, deadline: float, out: list) -> None:
    from django.db import connection

    from callbacks import event_types
    from callbacks.models import Account
    from callbacks.services.events import event_emit

    account = Account.objects.get(pk=account_id)
    started = time.monotonic()
    emitted = 0
    try:
        while emitted < count and time.monotonic() < deadline:
            if rate_per_s:
                pause = started + emitted / rate_per_s - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            event_emit(
                account=account,
                type=event_types.MESSAGE_STATUS,
                data={"message_id": f"m-{first + emitted}", "phone": "+6591234567", "status": "delivered"},
            )
            emitted += 1
    finally:
        out.append(emitted)
        connection.close()


def events_emit(
    *, account, count: int, rate_per_s: float | None = None, time_limit_s: float = 600, threads: int = EMIT_THREADS
) -> dict:
    """Emit `count` events through `event_emit` from `threads` producers (as a platform's web
    processes would), paced to `rate_per_s` in all if given; timing figures."""
    import threading

    started = time.monotonic()
    deadline = started + time_limit_s
    shares = [count // threads + (1 if index < count % threads else 0) for index in range(threads)]
    counted: list[int] = []
    producers = [
        threading.Thread(
            target=_emit_share,
            args=(
                account.pk,
                sum(shares[:index]),
                share,
                rate_per_s / threads if rate_per_s else None,
                deadline,
                counted,
            ),
        )
        for index, share in enumerate(shares)
        if share
    ]
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.join()
    seconds = time.monotonic() - started
    emitted = sum(counted)
    return {
        "events": emitted,
        "emit_seconds": round(seconds, 2),
        "emit_per_second": round(emitted / max(seconds, 1e-9)),
    }


def two_clusters_delivering(fleet, receiver, *, events: int):
    """Two clusters of `fleet` delivering `events` events to each of 2 profiles of `receiver`, returned
    once 150 requests have arrived (a fault then strikes mid-delivery)."""
    from bench.harness import wait_until

    account, profiles = profiles_create(count=2, url_for=lambda index: f"{receiver.url}/p{index}")
    fleet.cluster("worker-a")
    fleet.cluster("worker-b")
    events_emit(account=account, count=events)
    assert wait_until(lambda: receiver.stats()["total"] >= 150, timeout_s=60)
    return account, profiles


def delivered_count(profiles) -> int:
    from callbacks.models import Delivery

    return Delivery.objects.filter(profile__in=profiles, state=Delivery.State.DELIVERED).count()


def finished_wait(profiles, expected: int, timeout_s: float) -> int:
    """Poll until `expected` deliveries of `profiles` are delivered (or the time is up); how many were."""
    from bench.harness import wait_until

    wait_until(lambda: delivered_count(profiles) >= expected, timeout_s=timeout_s, interval_s=0.25)
    return delivered_count(profiles)


def created_by_delivery(profiles) -> dict[str, float]:
    from callbacks.models import Delivery

    rows = Delivery.objects.filter(profile__in=profiles).values_list("id", "event__created_at")
    return {id_key(delivery_id): created.timestamp() for delivery_id, created in rows}


def arrival_figures(*, profiles, arrivals: dict[str, float]) -> dict:
    """Throughput (first event created → last arrival) and event-to-first-byte latency of `profiles`."""
    from bench.harness import percentile

    created = created_by_delivery(profiles)
    matched = {key: at for key, at in arrivals.items() if key in created}
    latencies_ms = [(matched[key] - created[key]) * 1000 for key in matched]
    if not matched:
        return {"arrived": 0}
    first_created = min(created[key] for key in matched)
    first_arrival, last_arrival = min(matched.values()), max(matched.values())
    arrival_p95 = percentile(list(matched.values()), 0.95)
    return {
        "arrived": len(matched),
        "seconds_first_to_last_arrival": round(last_arrival - first_arrival, 2),
        "seconds_first_to_95pct_arrival": round(arrival_p95 - first_arrival, 2),
        "per_second_end_to_end": round(len(matched) / max(last_arrival - first_created, 1e-9)),
        "per_second_arrivals": round(len(matched) / max(last_arrival - first_arrival, 1e-9)),
        "latency_p50_ms": round(percentile(latencies_ms, 0.50), 1),
        "latency_p99_ms": round(percentile(latencies_ms, 0.99), 1),
        "latency_max_ms": round(max(latencies_ms), 1),
    }


def nginx_arrivals(log_path: Path) -> dict[str, float]:
    time.sleep(0.4)  # nginx flushes its buffered log every 200 ms
    first: dict[str, float] = {}
    with log_path.open() as log:
        for line in log:
            webhook_id, _, at = line.strip().rpartition(" ")
            if webhook_id and webhook_id != "-":
                first.setdefault(id_key(webhook_id), float(at))
    return first


def scripted_arrivals(url: str) -> tuple[dict[str, float], dict]:
    import requests

    stats = requests.get(url.rstrip("/") + "/_stats", timeout=60).json()
    return {id_key(key): times[0] for key, times in stats.pop("arrivals").items()}, stats


def pending_cancel(profiles) -> None:
    from callbacks.models import Delivery

    Delivery.objects.filter(profile__in=profiles, state=Delivery.State.PENDING).update(state=Delivery.State.CANCELLED)


# --- sections ----------------------------------------------------------------------------------------


def section_drain(stage: Stage, *, count: int, url: str, nginx_log: Path) -> dict:
    """`count` events emitted while no worker runs, then the cluster starts: dispatcher capacity."""
    account, profiles = profiles_create(count=1, url_for=lambda _: url)
    emitted = events_emit(account=account, count=count)
    cluster = stage.cluster("drain")
    try:
        done = finished_wait(profiles, count, timeout_s=max(120, count / 100))
    finally:
        cluster.stop()
    figures = arrival_figures(profiles=profiles, arrivals=nginx_arrivals(nginx_log))
    return {
        "delivered": done,
        **emitted,
        "per_second": figures.get("per_second_arrivals", 0),
        "seconds_first_to_last_arrival": figures.get("seconds_first_to_last_arrival"),
        "seconds_first_to_95pct_arrival": figures.get("seconds_first_to_95pct_arrival"),
    }


def section_live(stage: Stage, *, count: int, url: str, nginx_log: Path, rate_per_s: float | None = None) -> dict:
    """Events emitted while the cluster runs (as fast as possible, or paced): throughput and latency."""
    account, profiles = profiles_create(count=1, url_for=lambda _: url)
    cluster = stage.cluster("live" if rate_per_s is None else "steady")
    try:
        events_emit(account=account, count=50)  # warm-up: workers started and connected
        finished_wait(profiles, 50, timeout_s=60)
        warm = set(created_by_delivery(profiles))
        emitted = events_emit(account=account, count=count, rate_per_s=rate_per_s)
        done = finished_wait(profiles, count + 50, timeout_s=max(120, count / 100)) - 50
    finally:
        cluster.stop()
    arrivals = {key: at for key, at in nginx_arrivals(nginx_log).items() if key not in warm}
    return {"delivered": done, **emitted, **arrival_figures(profiles=profiles, arrivals=arrivals)}


def section_fanout_slow_receiver(stage: Stage, *, events: int, profile_count: int, url: str) -> dict:
    """Events fanned out to `profile_count` profiles of a receiver that answers after 100 ms."""
    account, profiles = profiles_create(count=profile_count, url_for=lambda index: f"{url.rstrip('/')}/p{index}")
    emitted = events_emit(account=account, count=events)
    cluster = stage.cluster("fanout")
    try:
        done = finished_wait(profiles, events * profile_count, timeout_s=max(120, events * profile_count / 200))
    finally:
        cluster.stop()
    arrivals, stats = scripted_arrivals(url)
    figures = arrival_figures(profiles=profiles, arrivals=arrivals)
    return {
        "deliveries": events * profile_count,
        "delivered": done,
        "per_second": figures.get("per_second_arrivals", 0),
        "receiver_max_in_flight": stats["max_in_flight"],
        "emit_per_second": emitted["emit_per_second"],
    }


def section_slow_endpoint(stage: Stage, *, count: int, url: str, slow_url: str, nginx_log: Path) -> dict:
    """Fast-profile throughput alone, then with a profile answering after 10 s on the same events."""
    results = {}
    for label, with_slow in (("alone", False), ("beside_slow", True)):
        account, profiles = profiles_create(count=1, url_for=lambda _: url)
        extra = []
        if with_slow:
            _, extra = profiles_create(count=1, url_for=lambda _: slow_url, account=account)
        events_emit(account=account, count=count)
        cluster = stage.cluster(f"slow-{label}")
        try:
            done = finished_wait(profiles, count, timeout_s=max(120, count / 100))
        finally:
            cluster.stop()
        figures = arrival_figures(profiles=profiles, arrivals=nginx_arrivals(nginx_log))
        results[label] = {"delivered": done, "per_second": figures.get("per_second_arrivals", 0)}
        pending_cancel(extra)
    alone, beside = results["alone"]["per_second"], results["beside_slow"]["per_second"]
    results["cost_percent"] = round(100 * (1 - beside / alone), 1) if alone else None
    return results


def section_backlog_memory(stage: Stage, *, count: int, url: str, time_limit_s: float = 120) -> dict:
    """A backlog of `count` due deliveries (bulk SQL), then the cluster drains it; its RSS sampled."""
    from bench.bulk import deliveries_insert
    from callbacks import event_types
    from callbacks.delivery.wake import wake_request

    _, profiles = profiles_create(count=1, url_for=lambda _: url)
    deliveries_insert(profile=profiles[0], start=1, count=count, event_type=event_types.MESSAGE_STATUS)
    wake_request()
    cluster = stage.cluster("backlog")
    peak_process = peak_total = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < time_limit_s:
            sizes = cluster.rss_by_pid()
            peak_process = max([peak_process, *sizes.values()])
            peak_total = max(peak_total, sum(sizes.values()))
            if delivered_count(profiles) >= count:
                break
            time.sleep(0.5)
        done = delivered_count(profiles)
        seconds = time.monotonic() - started
    finally:
        cluster.stop()
    pending_cancel(profiles)
    return {
        "backlog": count,
        "delivered_in_run": done,
        "seconds": round(seconds, 1),
        "peak_rss_one_process_mb": round(peak_process / 2**20, 1),
        "peak_rss_cluster_mb": round(peak_total / 2**20, 1),
    }


def nginx_arrival_counts(log_path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    time.sleep(0.4)
    with log_path.open() as log:
        for line in log:
            key = id_key(line.rpartition(" ")[0])
            counts[key] = counts.get(key, 0) + 1
    return counts


# 40 profiles × 20 requests at once each (the default limit, per worker) is far over a worker's 100 requests in
# flight: the profiles' limits are never what holds a worker back.
WORKERS_DELAYED_PROFILES = 40


def _workers_round(stage: Stage, *, label: str, url_for, profile_count: int, count: int, clusters: int, start: int):
    """`count` due deliveries (bulk SQL) spread over `profile_count` new profiles, drained by `clusters`
    qcluster processes at once; the profiles and how many were delivered."""
    from bench.bulk import deliveries_insert
    from callbacks import event_types
    from callbacks.delivery.wake import wake_request

    _, profiles = profiles_create(count=profile_count, url_for=url_for)
    share = count // profile_count
    for index, profile in enumerate(profiles):
        deliveries_insert(
            profile=profile, start=start + index * share, count=share, event_type=event_types.MESSAGE_STATUS
        )
    due_order_interleave(profiles)
    wake_request()
    running = [stage.cluster(f"workers-{label}-{clusters}-{index}") for index in range(clusters)]
    try:
        done = finished_wait(profiles, share * profile_count, timeout_s=max(180, count / 50))
    finally:
        for cluster in running:
            cluster.stop()
    return profiles, done


def due_order_interleave(profiles) -> None:
    """Make the profiles' pending deliveries due in turn (first of each, second of each, …), as events
    fanned out over time are, instead of one profile's whole share before the next one's (PostgreSQL)."""
    from django.db import connection

    from callbacks.models import Delivery

    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS delivery SET next_attempt_at = now() - interval '1 hour' + ranked.rank * interval '1 ms'"
            f" FROM (SELECT id, row_number() OVER (PARTITION BY profile_id ORDER BY id) AS rank FROM {table}"
            " WHERE profile_id = ANY(%s) AND state = 'pending') AS ranked WHERE delivery.id = ranked.id",
            [[profile.pk for profile in profiles]],
        )


def _growth(results: dict, cluster_counts) -> None:
    """Each round's throughput as a multiple of the one-cluster round's."""
    alone = results[f"{cluster_counts[0]}_qcluster"]["per_second"]
    for clusters in cluster_counts:
        figures = results[f"{clusters}_qcluster"]
        figures["ratio_vs_1"] = round(figures["per_second"] / alone, 2) if alone else None


def section_workers(
    stage: Stage,
    *,
    count: int,
    url: str,
    nginx_log: Path,
    delayed_url: str,
    delayed_count: int,
    delay_ms: int,
    cluster_counts=(1, 2, 3),
) -> dict:
    """Due deliveries drained by 1, 2, then 3 qcluster processes at once, twice: to nginx `return 200`
    (bound by the CPUs, which the clusters share) and to a receiver answering after `delay_ms` spread
    over many profiles (bound by each cluster's requests in flight, so it should grow with clusters)."""
    import os

    workers = int(os.environ.get("Q_WORKERS", "2"))
    concurrency = int(os.environ.get("CALLBACKS_DISPATCH_CONCURRENCY", "100"))
    cpu_bound: dict = {}
    for round_number, clusters in enumerate(cluster_counts, start=1):
        profiles, done = _workers_round(
            stage,
            label="nginx",
            url_for=lambda _: url,
            profile_count=1,
            count=count,
            clusters=clusters,
            start=round_number * 10**8,
        )
        created = created_by_delivery(profiles)
        counts = {key: value for key, value in nginx_arrival_counts(nginx_log).items() if key in created}
        figures = arrival_figures(profiles=profiles, arrivals=nginx_arrivals(nginx_log))
        cpu_bound[f"{clusters}_qcluster"] = {
            "delivered": done,
            "per_second": figures.get("per_second_arrivals", 0),
            "arrived_twice": sum(1 for value in counts.values() if value > 1),
        }
    _growth(cpu_bound, cluster_counts)
    delay_bound: dict = {"delay_ms": delay_ms, "profiles": WORKERS_DELAYED_PROFILES}
    for round_number, clusters in enumerate(cluster_counts, start=1):
        receiver_reset(delayed_url)
        profiles, done = _workers_round(
            stage,
            label="delayed",
            url_for=lambda index: f"{delayed_url.rstrip('/')}/delay/{delay_ms}/p{index}",
            profile_count=WORKERS_DELAYED_PROFILES,
            count=delayed_count,
            clusters=clusters,
            start=(10 + round_number) * 10**8,
        )
        created = created_by_delivery(profiles)
        stats = requests_stats(delayed_url)
        arrivals = {id_key(key): times for key, times in stats["arrivals"].items() if id_key(key) in created}
        figures = arrival_figures(profiles=profiles, arrivals={key: times[0] for key, times in arrivals.items()})
        # The last requests end `delay_ms` after they arrive: count that time, or a round of few waves looks fast.
        busy_s = figures.get("seconds_first_to_last_arrival", 0) + delay_ms / 1000
        delay_bound[f"{clusters}_qcluster"] = {
            "delivered": done,
            "per_second": round(len(arrivals) / busy_s),
            "ceiling_per_second": round(clusters * workers * concurrency * 1000 / delay_ms),
            "arrived_twice": sum(1 for times in arrivals.values() if len(times) > 1),
            "receiver_max_in_flight": stats["max_in_flight"],
            # how many of the clusters' workers were sending at once, at most (each holds `concurrency`)
            "workers_sending": f"{stats['max_in_flight'] / concurrency:.1f} of {clusters * workers}",
            "max_in_flight_same_id": stats["max_in_flight_same_id"],
        }
    _growth(delay_bound, cluster_counts)
    return {"nginx": cpu_bound, "delayed_receiver": delay_bound}


def requests_stats(url: str) -> dict:
    """What the ScriptedReceiver at `url` saw since its last reset (arrivals per webhook-id, in flight)."""
    import requests

    return requests.get(url.rstrip("/") + "/_stats", timeout=60).json()


def receiver_reset(url: str) -> None:
    import requests

    requests.post(url.rstrip("/") + "/_reset", timeout=10)


CLAIM_BATCH = 200
CLAIMS_MEASURED = 5


def claims_time(profile, *, start: int) -> float:
    """Median seconds of one claim of CLAIM_BATCH rows among CLAIMS_MEASURED × CLAIM_BATCH due ones."""
    from bench.bulk import deliveries_insert
    from bench.harness import percentile
    from callbacks import clock, event_types
    from callbacks.delivery.engine import deliveries_claim

    deliveries_insert(
        profile=profile, start=start, count=CLAIM_BATCH * CLAIMS_MEASURED, event_type=event_types.MESSAGE_STATUS
    )
    timings = []
    for _ in range(CLAIMS_MEASURED):
        started = time.perf_counter()
        claimed = deliveries_claim(worker_id="bench", limit=CLAIM_BATCH, now=clock.now(), lease_s=300)
        timings.append(time.perf_counter() - started)
        assert len(claimed) == CLAIM_BATCH, len(claimed)
    pending_cancel([profile])
    return percentile(timings, 0.5)


def section_claim_cost(stage: Stage, *, history: int) -> dict:
    """The claim of a batch on an empty table, then with `history` finished deliveries (bulk SQL)."""
    from bench.bulk import deliveries_insert
    from callbacks import event_types
    from callbacks.models import Delivery

    _, profiles = profiles_create(count=1, url_for=lambda _: "http://127.0.0.1:9/")
    claims_time(profiles[0], start=5 * 10**7)  # warm-up: connection, statement, page cache
    empty_s = claims_time(profiles[0], start=1)
    started = time.monotonic()
    for offset in range(0, history, 250_000):
        deliveries_insert(
            profile=profiles[0],
            start=10**7 + offset,
            count=min(250_000, history - offset),
            event_type=event_types.MESSAGE_STATUS,
            state=Delivery.State.DELIVERED,
            attempt_count=1,
        )
    insert_s = time.monotonic() - started
    full_s = claims_time(profiles[0], start=2 * 10**7)
    return {
        "history_rows": history,
        "insert_seconds": round(insert_s, 1),
        "claim_ms_empty": round(empty_s * 1000, 2),
        "claim_ms_with_history": round(full_s * 1000, 2),
        "ratio": round(full_s / empty_s, 2),
    }


API_ROUNDS = 5


def events_quota_lift(account) -> None:
    """Measured is what the API can take, not the account's events-per-second quota (as an operator
    would raise it for a customer posting this much)."""
    account.quota_events_per_s = 10_000_000
    account.save(update_fields=["quota_events_per_s"])


def section_api(stage: Stage, *, url: str, duration_s: float = 10) -> dict:
    """The events API under `make run`'s gunicorn settings, fan-out to 3 profiles: single events from 16
    clients beside a trivial endpoint (same key, answers 202, writes nothing), then 500-event batches from 4."""
    from bench.api_load import (
        BATCH_CLIENTS,
        BATCH_SIZE,
        Gunicorn,
        batch_body,
        cpu_counted,
        load_figures,
        load_measure,
        load_run,
    )
    from callbacks.models import Delivery, Event
    from callbacks.services.api_keys import api_key_create

    account, profiles = profiles_create(count=3, url_for=lambda _: url)
    events_quota_lift(account)
    _, key = api_key_create(account=account, name="bench")
    with Gunicorn(stage.environment, stage.workdir / "gunicorn.log") as server:
        load_measure(url=f"{server.url}/bench/ceiling/", key=key, duration_s=2)  # warm-up
        # The two alternate in rounds, so other load on the machine weighs on both alike.
        ceiling_runs, event_runs = [], []
        for _ in range(API_ROUNDS):
            for runs, path in ((ceiling_runs, "/bench/ceiling/"), (event_runs, "/api/v1/events/")):
                runs.append(
                    cpu_counted(
                        lambda path=path: load_run(url=server.url + path, key=key, duration_s=duration_s / API_ROUNDS),
                        server=server,
                    )
                )
        ceiling, events = load_figures(*ceiling_runs), load_figures(*event_runs)
        batches = load_measure(
            url=f"{server.url}/api/v1/events/batch/",
            key=key,
            duration_s=duration_s,
            clients=BATCH_CLIENTS,
            body=batch_body(BATCH_SIZE),
        )
    stored_events = Event.objects.filter(account=account).count()
    return {
        "ceiling": ceiling,
        "events": events,
        "events_share_of_ceiling_percent": round(
            100 * events["accepted_per_second"] / max(ceiling["accepted_per_second"], 1), 1
        ),
        # What an event costs the web processes beyond the trivial request, in CPU: the target's gap.
        "events_web_cpu_beyond_ceiling_ms": round(
            events.get("web_cpu_ms_per_request", 0) - ceiling.get("web_cpu_ms_per_request", 0), 3
        ),
        "batch": batches,
        "batch_events_per_second": batches.get("events_per_second", 0),
        "deliveries_per_event": round(Delivery.objects.filter(profile__in=profiles).count() / max(stored_events, 1), 2),
    }


NOISY_PROFILES = 10
NOISY_EMIT_CHUNK = 1000  # events per transaction when B's backlog is written


def backlog_emit(account, *, deliveries: int, fanout: int) -> None:
    """`deliveries` due deliveries of `account` (events fanned out to its `fanout` profiles), then a wake."""
    from callbacks import event_types
    from callbacks.delivery.wake import wake_request
    from callbacks.services.events import events_emit as events_store

    remaining = deliveries // fanout
    while remaining > 0:
        chunk = min(NOISY_EMIT_CHUNK, remaining)
        items = [(event_types.MESSAGE_STATUS, {"message_id": f"b-{remaining - index}"}) for index in range(chunk)]
        events_store(account=account, items=items)
        remaining -= chunk
    wake_request()


def _quiet_emit(account, *, count: int, rate_per_s: float, deadline: float, out: list) -> None:
    from django.db import connection

    from callbacks import event_types
    from callbacks.services.events import event_emit

    started = time.monotonic()
    try:
        for index in range(count):
            pause = started + index / rate_per_s - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if time.monotonic() > deadline:
                break
            event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"message_id": f"a-{index}"})
            out.append(index)
    finally:
        connection.close()


def _noisy_round(stage: Stage, *, label: str, backlog: int, url: str, quiet: dict | None, timeout_s: float):
    """B's backlog drained by a fresh cluster; with `quiet`, account A sends events meanwhile."""
    import threading

    noisy_account, noisy_profiles = profiles_create(count=NOISY_PROFILES, url_for=lambda index: f"{url}/b{index}")
    backlog_emit(noisy_account, deliveries=backlog, fanout=NOISY_PROFILES)
    total = backlog // NOISY_PROFILES * NOISY_PROFILES
    quiet_profiles: list = []
    emitted: list = []
    cluster = stage.cluster(f"noisy-{label}")
    try:
        producer = None
        if quiet is not None:
            quiet_account, quiet_profiles = profiles_create(count=1, url_for=lambda _: f"{url}/a")
            from bench.harness import wait_until

            # A starts once B's backlog is being delivered, and stops well before it is drained.
            wait_until(lambda: delivered_count(noisy_profiles) >= min(500, total // 10), timeout_s=120, interval_s=0.1)
            producer = threading.Thread(
                target=_quiet_emit,
                kwargs={
                    "account": quiet_account,
                    "count": quiet["events"],
                    "rate_per_s": quiet["rate_per_s"],
                    "deadline": time.monotonic() + timeout_s,
                    "out": emitted,
                },
            )
            producer.start()
        done = finished_wait(noisy_profiles, total, timeout_s=timeout_s)
        if producer is not None:
            producer.join()
            finished_wait(quiet_profiles, len(emitted), timeout_s=60)
    finally:
        cluster.stop()
    return noisy_profiles, quiet_profiles, done, total, len(emitted)


def section_noisy_neighbour(
    stage: Stage, *, backlog: int, url: str, nginx_log: Path, quiet_events: int = 200, quiet_rate_per_s: float = 20
) -> dict:
    """Account B holds `backlog` due deliveries (10 profiles); account A sends events at `quiet_rate_per_s`
    meanwhile. A's latency to its receiver, and B's drain rate beside the same backlog drained alone."""
    timeout_s = max(300, backlog / 100)
    # B alone before and after the shared round, so that neither order nor a growing table favours one.
    before_profiles, _, before_done, total, _ = _noisy_round(
        stage, label="alone-before", backlog=backlog, url=url, quiet=None, timeout_s=timeout_s
    )
    noisy_profiles, quiet_profiles, noisy_done, _, quiet_emitted = _noisy_round(
        stage,
        label="shared",
        backlog=backlog,
        url=url,
        quiet={"events": quiet_events, "rate_per_s": quiet_rate_per_s},
        timeout_s=timeout_s,
    )
    after_profiles, _, after_done, _, _ = _noisy_round(
        stage, label="alone-after", backlog=backlog, url=url, quiet=None, timeout_s=timeout_s
    )
    arrivals = nginx_arrivals(nginx_log)
    alone_rates = [
        arrival_figures(profiles=profiles, arrivals=arrivals).get("per_second_arrivals", 0)
        for profiles in (before_profiles, after_profiles)
    ]
    shared = arrival_figures(profiles=noisy_profiles, arrivals=arrivals)
    quiet = arrival_figures(profiles=quiet_profiles, arrivals=arrivals)
    alone_rate = sum(alone_rates) / 2
    shared_rate = shared.get("per_second_arrivals", 0)
    return {
        "backlog": total,
        "b_alone_delivered": min(before_done, after_done),
        "b_alone_per_second_before_after": alone_rates,
        "b_alone_per_second": round(alone_rate),
        "b_shared_delivered": noisy_done,
        "b_shared_per_second": shared_rate,
        "b_drain_percent_of_alone": round(100 * shared_rate / max(alone_rate, 1e-9), 1),
        "a_events": quiet_emitted,
        "a_arrived": quiet.get("arrived", 0),
        "a_latency_p50_ms": quiet.get("latency_p50_ms"),
        "a_latency_p99_ms": quiet.get("latency_p99_ms"),
        "a_latency_max_ms": quiet.get("latency_max_ms"),
    }


def section_mixed(
    stage: Stage,
    *,
    url: str,
    nginx_log: Path,
    rate_per_s: float = 1000,
    duration_s: float = 60,
    batch_size: int = 50,
) -> dict:
    """Events posted in batches at a steady rate while the cluster delivers them to nginx (fan-out 1):
    accepted → first byte at the receiver, and the backlog left 2 s after the last event."""
    from bench.api_load import Gunicorn, paced_batches_post
    from callbacks.models import Delivery
    from callbacks.services.api_keys import api_key_create

    account, profiles = profiles_create(count=1, url_for=lambda _: url)
    events_quota_lift(account)
    _, key = api_key_create(account=account, name="bench")
    cluster = stage.cluster("mixed")
    try:
        with Gunicorn(stage.environment, stage.workdir / "gunicorn-mixed.log") as server:
            # Warm-up: every web worker has served a batch, the cluster's workers have delivered.
            warm_up = paced_batches_post(
                url=f"{server.url}/api/v1/events/batch/", key=key, rate_per_s=200, batch_size=50, duration_s=1
            )
            finished_wait(profiles, warm_up["accepted"], timeout_s=60)
            warm = set(created_by_delivery(profiles))
            posted = paced_batches_post(
                url=f"{server.url}/api/v1/events/batch/",
                key=key,
                rate_per_s=rate_per_s,
                batch_size=batch_size,
                duration_s=duration_s,
            )
        time.sleep(2)
        backlog = Delivery.objects.filter(profile__in=profiles, state=Delivery.State.PENDING).count()
        expected = posted["accepted"] + len(warm)
        done = finished_wait(profiles, expected, timeout_s=max(60, expected / 200)) - len(warm)
    finally:
        cluster.stop()
    arrivals = {key: at for key, at in nginx_arrivals(nginx_log).items() if key not in warm}
    counts = nginx_arrival_counts(nginx_log)
    figures = arrival_figures(profiles=profiles, arrivals=arrivals)
    return {
        "rate_per_s": rate_per_s,
        "duration_s": duration_s,
        "batch_size": batch_size,
        "posted": posted,
        "delivered": done,
        "arrived_twice": sum(1 for value in counts.values() if value > 1),
        "backlog_2s_after": backlog,
        "accepted_to_first_byte_p50_ms": figures.get("latency_p50_ms"),
        "accepted_to_first_byte_p99_ms": figures.get("latency_p99_ms"),
        "accepted_to_first_byte_max_ms": figures.get("latency_max_ms"),
    }


def section_ordering(stage: Stage, **keywords) -> dict:
    from bench.ordering import section_ordering as ordering_run  # a module of its own, which imports this one

    return ordering_run(stage, **keywords)


SECTIONS = {
    "ordering": section_ordering,
    "noisy_neighbour": section_noisy_neighbour,
    "api": section_api,
    "mixed": section_mixed,
    "claim_cost": section_claim_cost,
    "workers": section_workers,
    "drain": section_drain,
    "live": section_live,
    "steady": section_live,
    "fanout": section_fanout_slow_receiver,
    "slow_endpoint": section_slow_endpoint,
    "backlog_memory": section_backlog_memory,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--section", required=True, choices=sorted(SECTIONS))
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--arguments", required=True, help="the section's keyword arguments as JSON")
    arguments = parser.parse_args()
    _django()
    import os

    stage = Stage(environment=dict(os.environ), workdir=arguments.workdir)
    keywords = json.loads(arguments.arguments)
    for key in ("nginx_log",):
        if key in keywords:
            keywords[key] = Path(keywords[key])
    result = SECTIONS[arguments.section](stage, **keywords)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
