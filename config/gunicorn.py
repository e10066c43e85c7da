"""gunicorn settings of `make run` (`manage.py serve`) and of the benchmark's API runs.

Chosen by measurement on a 2-core machine (docs/operations.md, "The web server"): WEB_WORKERS
processes of WEB_THREADS threads each; more threads let concurrent requests share one database flush.
"""

import os

workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
worker_class = os.environ.get("WEB_WORKER_CLASS", "gthread" if threads > 1 else "sync")
# Producers keep their connections open between events: hold idle ones long enough to be reused.
keepalive = int(os.environ.get("WEB_KEEPALIVE_S", "5"))
