"""Serve the screens and the API (gunicorn) and run the task cluster (qcluster) together.

Ctrl-C (or SIGTERM) stops both; if either exits, the other is stopped too.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

STOP_GRACE_S = 15
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class Command(BaseCommand):
    help = "Run the web server (gunicorn) and the django-q2 cluster until interrupted."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--web-workers", type=int, default=None, help="Default: WEB_WORKERS, else config/gunicorn.py."
        )

    def handle(self, *args, host: str, port: int, web_workers: int | None, **options) -> None:
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
        children = [subprocess.Popen(web, cwd=settings.BASE_DIR), subprocess.Popen(cluster, cwd=settings.BASE_DIR)]
        self.stdout.write(self.style.SUCCESS(f"Callback Center on http://{host}:{port}/admin/  (Ctrl-C stops)"))
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
