"""Random UUIDs for rows written in bulk, without a system call per id.

`uuid.uuid4()` reads the kernel's random source for each id; in the engine's main thread each such
call gives up the interpreter lock to the transport's thread and waits to get it back. These ids name
rows (attempts, deliveries, events); they are not secrets, so a seeded generator serves, reseeded
from the kernel in each new process (django-q2 forks its workers).
"""

from __future__ import annotations

import os
import random
import threading
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


_RANDOM_BITS = 74
_last_lock = threading.Lock()
_last = [0, 0]  # the latest id's milliseconds and random bits, in this process


def uuid7_int_fast() -> int:
    """A version-7 UUID (RFC 9562: unix milliseconds, then random bits) as an integer.

    Rows written in bulk (events, deliveries) get ids that grow with time, so each new row lands at the
    end of its primary-key index instead of on a random page: a batch dirties a few pages, not one per row.
    Within one process the ids strictly grow (RFC 9562's monotonic random): the events of one batch
    are in the order given, which per-key ordering relies on.
    """
    random_bits = _generator.getrandbits(_RANDOM_BITS)
    milliseconds = time.time_ns() // 1_000_000
    with _last_lock:
        if milliseconds < _last[0] or (milliseconds == _last[0] and random_bits <= _last[1]):
            # The same millisecond (or the clock stepped back): count up from the latest id.
            milliseconds, random_bits = _last[0], _last[1] + 1 + (random_bits & 0xFFFF)
            if random_bits >> _RANDOM_BITS:
                milliseconds, random_bits = milliseconds + 1, random_bits & ((1 << _RANDOM_BITS) - 1)
        _last[0], _last[1] = milliseconds, random_bits
    return milliseconds << 80 | _VERSION_7 | (random_bits >> 62) << 64 | _VARIANT | (random_bits & _RANDOM_LOW_MASK)


def uuid7_fast() -> uuid.UUID:
    return uuid.UUID(int=uuid7_int_fast())


def uuid7_hex_fast() -> str:
    """`uuid7_fast()` as 32 lowercase hex digits (how SQLite stores a UUID), without a UUID object."""
    return f"{uuid7_int_fast():032x}"
