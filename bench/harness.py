"""What the benchmark and the fault runs share: throw-away databases, real `qcluster` processes,
rows inserted in bulk with SQL, and percentiles.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
STOP_TIMEOUT_S = 15.0
TEST_FERNET_KEY = "bm90LWEtcmVhbC1rZXktanVzdC1mb3ItdGVzdHMtMDA="


def process_environment(
    *, database_url: str, redis_url: str = "", cluster_name: str, workers: int = 2, **extra: str
) -> dict:
    """The environment of a manage.py child: the production settings pointed at a throw-away store."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret-key"),
        FIELD_ENCRYPTION_KEYS=os.environ.get("FIELD_ENCRYPTION_KEYS", TEST_FERNET_KEY),
        CALLBACKS_ALLOW_HTTP="true",
        CALLBACKS_ALLOW_PRIVATE_NETWORKS="true",
        EMAIL_URL="memorymail://",
        DATABASE_URL=database_url,
        Q_CLUSTER_NAME=cluster_name,
        Q_WORKERS=str(workers),
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        environment["REDIS_URL"] = redis_url
    environment.update(extra)
    return environment


class ThrowawayDatabase:
    """A SQLite file in a temp dir, or a PostgreSQL database created here and dropped at the end."""

    def __init__(self, *, backend: str, directory: Path) -> None:
        self.backend = backend
        self.name = f"bench_l_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        if backend == "sqlite":
            self.url = f"sqlite:///{directory / (self.name + '.sqlite3')}"
        else:
            self.url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name

    def create(self) -> ThrowawayDatabase:
        if self.backend == "postgres":
            self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        if self.backend == "postgres":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @staticmethod
    def _admin(statement: str) -> None:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(statement)


def manage(arguments: list[str], environment: dict, timeout_s: float = 300) -> str:
    """Run one manage.py command to completion; its output, or RuntimeError with it."""
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(arguments)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result.stdout


class Cluster:
    """A real `manage.py qcluster` child process (with its own process group, so it dies whole)."""

    def __init__(self, environment: dict, log_path: Path | None = None) -> None:
        self.environment = environment
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> Cluster:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=self.environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pids(self) -> list[int]:
        """The cluster's processes: the parent and every descendant."""
        if not self.running:
            return []
        found = [self.process.pid]
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
        for pid in found:
            found.extend(children.get(pid, []))
        return found

    def rss_by_pid(self) -> dict[int, int]:
        """Resident memory of each process of the cluster, in bytes."""
        sizes = {}
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes[pid] = int(line.split()[1]) * 1024
        return sizes

    def terminate(self) -> None:
        """Ask the cluster to stop: SIGTERM to its main process, which stops its workers itself."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL the whole group if it does not finish in time."""
        if not self.running:
            return
        self.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reap_group()

    def kill(self) -> None:
        """SIGKILL every process of the cluster at once: no chance to clean up."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_TIMEOUT_S)

    def _reap_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def wait_until(condition, *, timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll `condition()` until true or `timeout_s` passed; whether it became true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return bool(condition())
