"""Serve the screens and the API (gunicorn) and run the task cluster (qcluster) together.

Ctrl-C (or SIGTERM) stops both; if either exits, the other is stopped too. Once the web server
answers and the cluster runs, the sign-in box comes last: the first run's logins, shown once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from callbacks.management.first_run import logins_box, logins_file_default, logins_pop

STOP_GRACE_S = 15
READY_WAIT_S = 60
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CLUSTER_READY_MARK = "running."
WORKER_BOOTED_MARK = "Booting worker"


class ChildOutput:
    """Forwards a child's output line by line and notes the lines that say it is up."""

    def __init__(self, process: subprocess.Popen, mark: str, needed: int) -> None:
        self.seen = 0
        self.ready = threading.Event()
        self._mark, self._needed = mark, needed
        self._thread = threading.Thread(target=self._forward, args=(process,), daemon=True)
        self._thread.start()

    def _forward(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if self._mark in line:
                self.seen += 1
                if self.seen >= self._needed:
                    self.ready.set()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 our own server on this machine
            return True
    except urllib.error.HTTPError:
        return True  # it answered (a broker still starting gives 503)
    except OSError:
        return False


class Command(BaseCommand):
    help = "Run the web server (gunicorn) and the django-q2 cluster until interrupted."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--web-workers", type=int, default=None, help="Default: WEB_WORKERS, else config/gunicorn.py."
        )
        parser.add_argument("--logins-file", type=Path, default=None, help="Logins left by `bootstrap --logins-later`.")

    def handle(self, *args, host: str, port: int, web_workers: int | None, logins_file: Path | None, **options) -> None:
        python = sys.executable
        # The metric files of processes that ran before: this command starts every process of the machine.
        for stale in Path(settings.PROMETHEUS_MULTIPROC_DIR).glob("*.db"):
            stale.unlink(missing_ok=True)
        # Workers, threads and worker class come from config/gunicorn.py (WEB_WORKERS, WEB_THREADS).
        web = [
            python, "-m", "gunicorn", "config.wsgi:application", "--config", "python:config.gunicorn",
            "--bind", f"{host}:{port}", "--access-logfile", "-", "--graceful-timeout", str(STOP_GRACE_S),
        ]  # fmt: skip
        if web_workers is not None:
            web += ["--workers", str(web_workers)]
        cluster = [python, "manage.py", "qcluster"]
        piped = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "bufsize": 1}
        children = [
            subprocess.Popen(web, cwd=settings.BASE_DIR, **piped),
            subprocess.Popen(cluster, cwd=settings.BASE_DIR, **piped),
        ]
        outputs = [
            ChildOutput(children[0], WORKER_BOOTED_MARK, web_workers or 1),  # and /healthz answers
            ChildOutput(children[1], CLUSTER_READY_MARK, 1),
        ]
        address = f"http://{host}:{port}/admin/"
        self.stdout.write(self.style.SUCCESS(f"Callback Center on {address}  (Ctrl-C stops)"))
        site = urlsplit(settings.SITE_URL)
        if site.hostname in LOCAL_HOSTS and (site.port or 80) != port:
            self.stdout.write(
                self.style.WARNING(f"SITE_URL is {settings.SITE_URL}: links in e-mails will not reach this server.")
            )

        stopping = False

        def stop(signum: int, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        local = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)  # noqa: S104
        health = f"http://{local}:{port}/healthz"
        deadline = time.monotonic() + READY_WAIT_S
        while not stopping and all(child.poll() is None for child in children) and time.monotonic() < deadline:
            if all(output.ready.is_set() for output in outputs) and _answers(health):
                break
            time.sleep(0.3)
        if not stopping and all(child.poll() is None for child in children):
            logins = logins_pop(logins_file or logins_file_default())
            self.stdout.write(self.style.SUCCESS(logins_box(address=address, logins=logins)))
            self.stdout.flush()

        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        # The cluster's dispatchers take up to CALLBACKS_STOP_GRACE_S for the answers in flight.
        deadline = time.monotonic() + max(STOP_GRACE_S, settings.CALLBACKS_STOP_GRACE_S + 5)
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        self.stdout.write("Stopped.")
