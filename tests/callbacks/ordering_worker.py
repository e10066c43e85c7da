"""A dispatcher in a process of its own, for the per-key ordering test (`test_ordering.py`).

    python -m tests.callbacks.ordering_worker setup <url> <keys> <per key>  # migrate, a per-key profile, events
    python -m tests.callbacks.ordering_worker work                          # dispatch until idle
    python -m tests.callbacks.ordering_worker states                        # {state: count} as JSON

The events of each key are emitted in order, two of a key in each burst (one transaction), so the
order within a burst and across bursts both count. The database is whatever DATABASE_URL names.
"""

from __future__ import annotations

import json
import os
import sys


def main(arguments: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Count

    from callbacks import event_types
    from callbacks.delivery.engine import dispatch_run
    from callbacks.models import CallbackProfile, Delivery
    from callbacks.services.events import events_emit
    from tests.callbacks.engine_helpers import profile_for
    from tests.factories import AccountFactory

    command = arguments[0]
    if command == "setup":
        url, keys, per_key = arguments[1], int(arguments[2]), int(arguments[3])
        call_command("migrate", verbosity=0)
        account = AccountFactory()
        profile_for(
            account,
            None,
            url=url,
            ordering=CallbackProfile.Ordering.PER_KEY,
            retry_schedule_s=[0, 0, 0, 0, 0, 0],
            max_in_flight=8,
        )
        for first in range(0, per_key, 2):
            events_emit(
                account=account,
                items=[
                    (event_types.MESSAGE_STATUS, {"message_id": f"m{key}", "seq": seq})
                    for key in range(keys)
                    for seq in range(first, min(first + 2, per_key))
                ],
            )
    elif command == "work":
        result = dispatch_run(worker_id=f"ordering-test-{os.getpid()}", linger_s=0.3, budget_s=60)
        print(json.dumps({"processed": result.processed}))
    elif command == "states":
        counts = Delivery.objects.values("state").annotate(count=Count("pk"))
        print(json.dumps({row["state"]: row["count"] for row in counts}))


if __name__ == "__main__":
    main(sys.argv[1:])
