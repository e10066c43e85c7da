"""Building a monthly report over a month of rollups equivalent to 10 million deliveries.

    python -m bench.bench_reports                     # SQLite, and PostgreSQL when DATABASE_URL is set
    python -m bench.bench_reports --profiles 50 --event-types 18

Each backend gets a throw-away database (a SQLite file in a temp dir; a PostgreSQL database created
on BENCH_POSTGRES_URL's server, 127.0.0.1:5432 by default, and dropped at the end), migrated by `manage.py migrate` in a child process.
A second child writes `profiles × event types × hours` DeliveryStats rows for the month 2026-10-25
17:00 .. 2026-11-25 17:00 Europe/Berlin (744 hours) with SQL, then times `report_build` (the counts,
per profile and per event type, failure classes, busiest hour and chart series) and, separately, the
e-mail's chart and CSV. `run()` returns the figures; `make bench` calls it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import ROOT, ThrowawayDatabase, manage, process_environment

DELIVERIES = 10_000_000
PROFILES = 25
EVENT_TYPES = 12
TIMEZONE = "Europe/Berlin"
PERIOD_END = "2026-11-25T17:00:00+01:00"
WARM_RUNS = 3
CHILD_TIMEOUT_S = 900
FAILED_EVERY_NTH_ROW = 7  # one row in seven has failures, a few percent of deliveries


def backend_run(*, backend: str, deliveries: int, profiles: int, event_types: int, workdir: Path) -> dict:
    """Migrate a fresh database of `backend`, then measure in a child process; its figures."""
    database = ThrowawayDatabase(backend=backend, directory=workdir).create()
    try:
        environment = process_environment(database_url=database.url, cluster_name=database.name)
        manage(["migrate", "--noinput", "--verbosity", "0"], environment)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.bench_reports",
                "--child",
                f"--deliveries={deliveries}",
                f"--profiles={profiles}",
                f"--event-types={event_types}",
            ],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
        )
        if result.returncode != 0:
            return {"error": result.stderr[-2000:]}
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        database.drop()


def run(
    *, deliveries: int = DELIVERIES, profiles: int = PROFILES, event_types: int = EVENT_TYPES, backends=None
) -> dict:
    """Figures per backend: rows written, deliveries they count, and the monthly report's build time in seconds."""
    if backends is None:
        backends = ["sqlite", "postgres"] if os.environ.get("DATABASE_URL", "").startswith("postgres") else ["sqlite"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as workdir:
        for backend in backends:
            results[backend] = backend_run(
                backend=backend,
                deliveries=deliveries,
                profiles=profiles,
                event_types=event_types,
                workdir=Path(workdir),
            )
    return results


# --- The child: runs inside Django, against the throw-away database ---------------------------------


def _rollups_write(*, account, profile_ids: list, event_types: int, first_hour, hours: int, per_row: int) -> None:
    """Rows in the order the engine writes them: hour by hour, each hour's profiles and event types together."""
    from django.db import connection, transaction

    from bench.bulk import rows_insert
    from callbacks.models import DeliveryStats

    postgres = connection.vendor == "postgresql"
    profiles = len(profile_ids)
    # n runs over event types fastest, then profiles, then hours. Delivered varies with the hour of
    # day so the busiest hour is a real maximum; one row in FAILED_EVERY_NTH_ROW carries failures.
    # `%%` is SQL's modulo, escaped for the driver's parameter style.
    hour_of_n = f"(n / {event_types * profiles})"
    profile_of_n = f"((n / {event_types}) %% {profiles})"
    failed = f"(CASE WHEN n %% {FAILED_EVERY_NTH_ROW} = 0 THEN {max(1, per_row // 10)} ELSE 0 END)"
    if postgres:
        profile_literals = [f"'{profile_id}'::uuid" for profile_id in profile_ids]
        event_type = f"('bench.type_' || lpad((n %% {event_types})::text, 2, '0'))"
        hour = f"('{first_hour.isoformat()}'::timestamptz + {hour_of_n} * interval '1 hour')"
        by_class = f"jsonb_build_object('http_status', {failed} * 2, 'connect', {failed})"
    else:
        profile_literals = [f"'{profile_id.hex}'" for profile_id in profile_ids]
        event_type = f"printf('bench.type_%%02d', n %% {event_types})"
        hour = f"datetime('{first_hour:%Y-%m-%d %H:%M:%S}', '+' || {hour_of_n} || ' hours')"
        by_class = f"json_object('http_status', {failed} * 2, 'connect', {failed})"
    profile = (
        f"(CASE {profile_of_n} "
        + " ".join(f"WHEN {index} THEN {literal}" for index, literal in enumerate(profile_literals))
        + " END)"
    )
    delivered = f"({per_row} + ({hour_of_n} %% 24) - 11 - {failed})"
    with transaction.atomic():
        rows_insert(
            model=DeliveryStats,
            start=0,
            count=event_types * profiles * hours,
            values={"account_id": account.pk},
            sql={
                "id": "(n + 1)",
                "profile_id": profile,
                "event_type": event_type,
                "hour": hour,
                "delivered": delivered,
                "failed": failed,
                "attempts": f"({delivered} + {failed} * 3)",
                "failed_attempts": f"({failed} * 3)",
                "failures_by_class": by_class,
            },
        )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {DeliveryStats._meta.db_table}")


def child_measure(*, deliveries: int, profiles: int, event_types: int) -> dict:
    import django

    django.setup()
    import datetime as dt

    from django.utils import timezone

    from callbacks.models import Account, CallbackProfile
    from reports.building import report_build, report_csv
    from reports.emails import report_chart
    from reports.periods import MONTHLY, period_ending_at

    period = period_ending_at(frequency=MONTHLY, timezone=TIMEZONE, end=dt.datetime.fromisoformat(PERIOD_END))
    hours = round(period.duration / dt.timedelta(hours=1))
    series = profiles * event_types
    per_row = max(13, round(deliveries / (series * hours)))

    account = Account.objects.create(name="Bench account", admin_email="ops@example.com", timezone=TIMEZONE)
    profile_rows = CallbackProfile.objects.bulk_create(
        CallbackProfile(account=account, name=f"Profile {number:02d}", url="http://127.0.0.1:9/")
        for number in range(profiles)
    )
    started = time.perf_counter()
    _rollups_write(
        account=account,
        profile_ids=[profile.pk for profile in profile_rows],
        event_types=event_types,
        first_hour=period.start,
        hours=hours,
        per_row=per_row,
    )
    write_s = time.perf_counter() - started

    started, started_cpu = time.perf_counter(), time.process_time()
    report = report_build(account=account, period=period, now=timezone.now())
    build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    warm = []
    for _ in range(WARM_RUNS):
        started = time.perf_counter()
        report_build(account=account, period=period, now=timezone.now())
        warm.append(time.perf_counter() - started)
    started = time.perf_counter()
    report_chart(report=report)
    report_csv(report=report)
    compose_s = time.perf_counter() - started
    return {
        "rows": series * hours,
        "deliveries": report.delivered_count + report.failed_count,
        "failed": report.failed_count,
        "profiles": profiles,
        "event_types": event_types,
        "hours": hours,
        "rollups_write_s": round(write_s, 2),
        "build_s": round(build_s, 3),
        "build_s_warm_best": round(min(warm), 3),
        # CPU of this process: all of SQLite's work, none of PostgreSQL's; steadier on a busy machine.
        "build_cpu_s": round(build_cpu_s, 3),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "chart_and_csv_s": round(compose_s, 3),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=DELIVERIES)
    parser.add_argument("--profiles", type=int, default=PROFILES)
    parser.add_argument("--event-types", type=int, default=EVENT_TYPES)
    parser.add_argument(
        "--backends", help="comma-separated, of: sqlite, postgres (default: sqlite, + postgres if DATABASE_URL)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child:
        figures = child_measure(
            deliveries=arguments.deliveries, profiles=arguments.profiles, event_types=arguments.event_types
        )
        print(json.dumps(figures))
        return figures
    results = run(
        deliveries=arguments.deliveries,
        profiles=arguments.profiles,
        event_types=arguments.event_types,
        backends=arguments.backends.split(",") if arguments.backends else None,
    )
    for backend, figures in results.items():
        print(f"{backend}: {json.dumps(figures)}")
    return results


if __name__ == "__main__":
    main()
