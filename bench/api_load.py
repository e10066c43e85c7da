"""Load on the events API under gunicorn (2 workers), next to a trivial DRF endpoint on the same
server: events accepted per second, with fan-out to 3 profiles, and latency percentiles."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from bench.harness import ROOT, percentile
from bench.servers import free_port, port_wait

CLIENT_PROCESSES = 2
THREADS_PER_PROCESS = 6
GUNICORN_WORKERS = 2
EVENT_BODY = json.dumps({"type": "message.status", "data": {"message_id": "m-1", "phone": "+6591234567"}})


def _client_thread(url: str, key: str, deadline: float, latencies: list, statuses: dict) -> None:
    session = requests.Session()
    session.trust_env = False
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            status = session.post(url, data=EVENT_BODY, headers=headers, timeout=30).status_code
        except requests.RequestException:
            status = 0
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[status] = statuses.get(status, 0) + 1


def _client_process(url: str, key: str, duration_s: float) -> tuple[list[float], dict]:
    latencies: list[float] = []
    statuses: dict = {}
    deadline = time.monotonic() + duration_s
    threads = [
        threading.Thread(target=_client_thread, args=(url, key, deadline, latencies, statuses))
        for _ in range(THREADS_PER_PROCESS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses


def load_measure(*, url: str, key: str, duration_s: float) -> dict:
    """Posts from CLIENT_PROCESSES × THREADS_PER_PROCESS clients for `duration_s`."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(CLIENT_PROCESSES) as pool:
        results = pool.starmap(_client_process, [(url, key, duration_s)] * CLIENT_PROCESSES)
    latencies = [value for result in results for value in result[0]]
    statuses: dict = {}
    for _, counted in results:
        for status, count in counted.items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
    accepted = sum(count for status, count in statuses.items() if status.startswith("2"))
    return {
        "accepted_per_second": round(accepted / duration_s),
        "latency_p50_ms": round(percentile(latencies, 0.50), 1),
        "latency_p99_ms": round(percentile(latencies, 0.99), 1),
        "statuses": statuses,
    }


class Gunicorn:
    """gunicorn serving the project (plus the ceiling endpoint) as a child process."""

    def __init__(self, environment: dict, log_path: Path) -> None:
        self.port = free_port()
        self.environment = {
            **environment,
            "DJANGO_SETTINGS_MODULE": "bench.settings_fleet",
            "BENCH_ROOT_URLCONF": "bench.urls_ceiling",
        }
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        log = open(self.log_path, "ab")
        command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", str(GUNICORN_WORKERS)]
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
