"""Load on the events API under gunicorn with `make run`'s settings (config/gunicorn.py), next to a
trivial DRF endpoint on the same server: single events from 16 clients, batches from 4, and batches
paced to a steady rate (the `mixed` section)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from bench.harness import ROOT, percentile
from bench.servers import free_port, port_wait

CLIENT_PROCESSES = 2
SINGLE_CLIENTS = 16
BATCH_CLIENTS = 4
BATCH_SIZE = 500
EVENT = {"type": "message.status", "data": {"message_id": "m-1", "phone": "+6591234567", "status": "delivered"}}
EVENT_BODY = json.dumps(EVENT)


def batch_body(size: int, first: int = 0) -> str:
    return json.dumps(
        {"events": [{**EVENT, "data": {**EVENT["data"], "message_id": f"m-{first + n}"}} for n in range(size)]}
    )


def _client_thread(url: str, key: str, body: str, deadline: float, latencies: list, counts: dict) -> None:
    session = requests.Session()
    session.trust_env = False
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            response = session.post(url, data=body, headers=headers, timeout=60)
            status = response.status_code
            if status == 207:
                counts["events"] = counts.get("events", 0) + response.json()["accepted"]
        except requests.RequestException:
            status = 0
        latencies.append((time.perf_counter() - started) * 1000)
        counts[status] = counts.get(status, 0) + 1


def _client_process(url: str, key: str, body: str, threads: int, duration_s: float) -> tuple[list[float], dict]:
    latencies: list[float] = []
    counts: dict = {}
    deadline = time.monotonic() + duration_s
    running = [
        threading.Thread(target=_client_thread, args=(url, key, body, deadline, latencies, counts))
        for _ in range(threads)
    ]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return latencies, counts


def load_run(*, url: str, key: str, duration_s: float, clients: int = SINGLE_CLIENTS, body: str = EVENT_BODY) -> dict:
    """`clients` clients (threads over CLIENT_PROCESSES processes) posting `body` back to back for `duration_s`:
    the raw latencies and answers, for `load_figures`."""
    processes = min(CLIENT_PROCESSES, clients)
    shares = [clients // processes + (1 if index < clients % processes else 0) for index in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        results = pool.starmap(_client_process, [(url, key, body, share, duration_s) for share in shares])
    counts: dict = {}
    for _, counted in results:
        for status, count in counted.items():
            counts[str(status)] = counts.get(str(status), 0) + count
    return {
        "clients": clients,
        "seconds": duration_s,
        "latencies": [value for result in results for value in result[0]],
        "counts": counts,
    }


def load_figures(*runs: dict) -> dict:
    """Requests (and, for batches, events) accepted per second and latency percentiles over `runs`."""
    seconds = sum(run["seconds"] for run in runs)
    latencies = [value for run in runs for value in run["latencies"]]
    counts: dict = {}
    for run in runs:
        for status, count in run["counts"].items():
            counts[status] = counts.get(status, 0) + count
    events = counts.pop("events", None)
    accepted = sum(count for status, count in counts.items() if status.startswith("2"))
    figures = {
        "clients": runs[0]["clients"],
        "accepted_per_second": round(accepted / seconds),
        "latency_p50_ms": round(percentile(latencies, 0.50), 1),
        "latency_p99_ms": round(percentile(latencies, 0.99), 1),
        "statuses": counts,
    }
    if events is not None:
        figures["events_per_second"] = round(events / seconds)
    # What each answered request cost in CPU: steadier from run to run than the rates, which move with
    # how the clients' connections fall between the server's processes.
    for figure in ("web_cpu_s", "database_cpu_s", "machine_cpu_s"):
        if accepted and all(figure in run for run in runs):
            figures[f"{figure.removesuffix('_s')}_ms_per_request"] = round(
                1000 * sum(run[figure] for run in runs) / accepted, 3
            )
    return figures


def cpu_counted(run_load, *, server: Gunicorn) -> dict:
    """`run_load()`'s result with the CPU seconds used meanwhile by the server's processes (`web_cpu_s`),
    by a PostgreSQL server on this machine (`database_cpu_s`) and by the whole machine, clients included
    (`machine_cpu_s`). Linux only (/proc); elsewhere as is."""
    if not Path("/proc/stat").exists():
        return run_load()
    web, database, machine = server.cpu_s(), postgres_cpu_s(), machine_busy_s()
    run = run_load()
    run["web_cpu_s"], run["machine_cpu_s"] = server.cpu_s() - web, machine_busy_s() - machine
    if database is not None:
        run["database_cpu_s"] = postgres_cpu_s() - database
    return run


def postgres_cpu_s() -> float | None:
    """CPU seconds the PostgreSQL server of the default database has used: its postmaster, the processes
    running now and those that ended (which the postmaster reaped). None on SQLite, or when the server's
    processes are not visible from here (another machine or container)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    try:
        postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
        fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # utime, stime, then cutime, cstime: what the ended children used, once reaped.
    own_and_ended = sum(int(value) for value in fields[11:15]) / _TICKS_PER_S
    return own_and_ended + sum(process_cpu_s(int(child)) for child in children)


_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_busy_s() -> float:
    """CPU seconds the machine has spent on anything but idling, all cores together."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICKS_PER_S


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user and system) process `pid` has used; 0 once it has ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def load_measure(
    *, url: str, key: str, duration_s: float, clients: int = SINGLE_CLIENTS, body: str = EVENT_BODY
) -> dict:
    return load_figures(load_run(url=url, key=key, duration_s=duration_s, clients=clients, body=body))


def paced_batches_post(
    *, url: str, key: str, rate_per_s: float, batch_size: int, duration_s: float, threads: int = 4
) -> dict:
    """Batches of `batch_size` posted so that `rate_per_s` events a second go in, for `duration_s`, from
    `threads` clients; what was accepted, and when the last answer came."""
    batches = int(rate_per_s * duration_s / batch_size)
    interval_s = batch_size / rate_per_s
    started = time.monotonic() + 0.2
    lock = threading.Lock()
    state = {"next": 0, "accepted": 0, "refused": 0, "failed": 0, "late_max_s": 0.0}
    latencies: list[float] = []

    def client() -> None:
        session = requests.Session()
        session.trust_env = False
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        while True:
            with lock:
                number = state["next"]
                state["next"] += 1
            if number >= batches:
                return
            due = started + number * interval_s
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            body = batch_body(batch_size, first=number * batch_size)
            sent = time.monotonic()
            try:
                response = session.post(url, data=body, headers=headers, timeout=60)
                answer = response.json() if response.status_code == 207 else {}
            except requests.RequestException:
                answer = {}
            done = time.monotonic()
            with lock:
                latencies.append((done - sent) * 1000)
                state["late_max_s"] = max(state["late_max_s"], sent - due)
                if answer:
                    state["accepted"] += answer["accepted"]
                    state["refused"] += answer["refused"]
                else:
                    state["failed"] += 1

    running = [threading.Thread(target=client) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return {
        "batches": batches,
        "accepted": state["accepted"],
        "refused": state["refused"],
        "failed_batches": state["failed"],
        "seconds": round(time.monotonic() - started, 2),
        "batch_latency_p50_ms": round(percentile(latencies, 0.50), 1),
        "batch_latency_p99_ms": round(percentile(latencies, 0.99), 1),
        "most_behind_schedule_s": round(state["late_max_s"], 3),
    }


class Gunicorn:
    """gunicorn serving the project (plus the ceiling endpoint) with `make run`'s settings, as a child process."""

    def __init__(self, environment: dict, log_path: Path) -> None:
        self.port = free_port()
        self.environment = {
            **environment,
            "DJANGO_SETTINGS_MODULE": "bench.settings_fleet",
            "BENCH_ROOT_URLCONF": "bench.urls_ceiling",
        }
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        """CPU seconds used so far by gunicorn's master and its live workers."""
        master = self.process.pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return sum(process_cpu_s(pid) for pid in [master, *map(int, children)])

    def __enter__(self) -> Gunicorn:
        log = open(self.log_path, "ab")
        command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config", "python:config.gunicorn"]
        self.process = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"],
            cwd=ROOT,
            env=self.environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        port_wait(self.port, timeout_s=30)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
