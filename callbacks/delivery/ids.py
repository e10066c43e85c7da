"""Random UUIDs for rows written in bulk, without a system call per id.

`uuid.uuid4()` reads the kernel's random source for each id; in the engine's main thread each such
call gives up the interpreter lock to the transport's thread and waits to get it back. These ids name
rows (attempts, deliveries, events); they are not secrets, so a seeded generator serves, reseeded
from the kernel in each new process (django-q2 forks its workers).
"""

from __future__ import annotations

import os
import random
import uuid

_generator = random.Random()


def _reseed() -> None:
    _generator.seed(os.urandom(32))


_reseed()
os.register_at_fork(after_in_child=_reseed)


def uuid4_fast() -> uuid.UUID:
    """A version-4 UUID from the process's seeded generator."""
    return uuid.UUID(int=_generator.getrandbits(128), version=4)
