"""Settings of the processes the load and fault suites start: production settings with a short
lease (CALLBACKS_LEASE_S) so a killed worker's rows come back in seconds, and (BENCH_ROOT_URLCONF)
the project's routes plus the trivial endpoint the events API is measured against."""

from config.settings import *  # noqa: F403
from config.settings import ROOT_URLCONF, env

CALLBACKS_LEASE_S = env.float("CALLBACKS_LEASE_S", default=300.0)
ROOT_URLCONF = env.str("BENCH_ROOT_URLCONF", default=ROOT_URLCONF)
