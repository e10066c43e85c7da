"""`manage.py qcluster`: django-q2's cluster, with prompt stops and a look for due work at start.

On SIGTERM or SIGINT the dispatchers in the workers are told at once (a flag they inherit), so the
cluster exits within CALLBACKS_STOP_GRACE_S instead of when their runs end; django-q2 then stops its
processes as usual. Once started, the cluster queues a wake, so a backlog left by a cluster that was
stopped or killed goes out at once.
"""

from __future__ import annotations

import logging
import os
import signal

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as QclusterCommand

# The engine, imported before the cluster forks: a worker's first wake after a start does not wait
# for it to load (a start is when a backlog waits).
from callbacks import tasks  # noqa: F401
from callbacks.delivery import stopping, wake

logger = logging.getLogger(__name__)


class Command(QclusterCommand):
    def handle(self, *args, **options) -> None:
        settings.SECRET_KEY  # noqa: B018 - as django-q2's command: no cluster without it (signing)
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        stopping.stop_flag_install()  # before the cluster forks: its workers inherit the flag
        cluster = Cluster()

        def stop(signum: int, frame) -> None:
            stopping.stop_request()
            cluster.sig_handler(signum, frame)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        cluster.start()
        if not stopping.stop_requested():
            logger.info("cluster.started", extra={"wake_queued": wake.wake_on_start()})
        if options.get("run_once", False):
            cluster.stop()
