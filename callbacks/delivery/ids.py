"""Random UUIDs for rows written in bulk, without a system call per id.

`uuid.uuid4()` reads the kernel's random source for each id; in the engine's main thread each such
call gives up the interpreter lock to the transport's thread and waits to get it back. These ids name
rows (attempts, deliveries, events); they are not secrets, so a seeded generator serves, reseeded
from the kernel in each new process (django-q2 forks its workers).
"""

from __future__ import annotations

import os
import random
import time
import uuid

_generator = random.Random()


def _reseed() -> None:
    _generator.seed(os.urandom(32))


_reseed()
os.register_at_fork(after_in_child=_reseed)


def uuid4_fast() -> uuid.UUID:
    """A version-4 UUID from the process's seeded generator."""
    return uuid.UUID(int=_generator.getrandbits(128), version=4)


_VERSION_7 = 0x7 << 76
_VARIANT = 0b10 << 62
_RANDOM_LOW_MASK = (1 << 62) - 1


def uuid7_int_fast() -> int:
    """A version-7 UUID (RFC 9562: unix milliseconds, then random bits) as an integer.

    Rows written in bulk (events, deliveries) get ids that grow with time, so each new row lands at the
    end of its primary-key index instead of on a random page: a batch dirties a few pages, not one per row.
    """
    random_bits = _generator.getrandbits(74)
    return (
        (time.time_ns() // 1_000_000) << 80
        | _VERSION_7
        | (random_bits >> 62) << 64
        | _VARIANT
        | (random_bits & _RANDOM_LOW_MASK)
    )


def uuid7_fast() -> uuid.UUID:
    return uuid.UUID(int=uuid7_int_fast())


def uuid7_hex_fast() -> str:
    """`uuid7_fast()` as 32 lowercase hex digits (how SQLite stores a UUID), without a UUID object."""
    return f"{uuid7_int_fast():032x}"
