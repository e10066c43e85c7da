"""A dispatcher in a process of its own, for the crash test (`test_engine_crash.py`).

    python -m tests.callbacks.crash_worker setup <url> <count>   # migrate, one profile, <count> events
    python -m tests.callbacks.crash_worker work                  # dispatch until idle (the test kills it)
    python -m tests.callbacks.crash_worker work --after-lease    # the same, the clock past the lease
    python -m tests.callbacks.crash_worker states                # {delivery id: [state, leased by]} as JSON

The database is whatever DATABASE_URL names (a throw-away SQLite file or PostgreSQL database).
"""

from __future__ import annotations

import json
import os
import sys


def main(arguments: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from callbacks import clock, event_types
    from callbacks.delivery.engine import dispatch_run
    from callbacks.models import Delivery
    from callbacks.services.events import event_emit
    from tests.callbacks.engine_helpers import profile_for
    from tests.factories import AccountFactory

    command = arguments[0]
    if command == "setup":
        url, count = arguments[1], int(arguments[2])
        call_command("migrate", verbosity=0)
        account = AccountFactory()
        profile_for(account, None, url=url, max_in_flight=settings.CALLBACKS_DISPATCH_CONCURRENCY)
        for number in range(count):
            event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"n": number})
    elif command == "work":
        if "--after-lease" in arguments:
            clock.advance(seconds=settings.CALLBACKS_LEASE_S + 1)
        result = dispatch_run(worker_id=f"crash-test-{os.getpid()}", linger_s=0, budget_s=60)
        print(json.dumps({"processed": result.processed}))
    elif command == "states":
        rows = Delivery.objects.values_list("pk", "state", "leased_by")
        print(json.dumps({str(pk): [state, leased_by] for pk, state, leased_by in rows}))


if __name__ == "__main__":
    main(sys.argv[1:])
