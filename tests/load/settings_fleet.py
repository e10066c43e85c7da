"""Settings of the qcluster processes the fault suites start: production settings with a short
lease (CALLBACKS_LEASE_S from the environment) so a killed worker's rows come back in seconds."""

from config.settings import *  # noqa: F403
from config.settings import env

CALLBACKS_LEASE_S = env.float("CALLBACKS_LEASE_S", default=300.0)
