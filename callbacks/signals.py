"""What the callbacks app announces; other apps (alerts, reports) listen. `callbacks` never imports them.

- event_received(event): an event was stored (sent after its transaction commits).
- account_balance_changed(account, previous_balance_usd, balance_usd): the balance was updated.
- delivery_failed(delivery, attempt, failure_class): an attempt failed (any non-success outcome).
- endpoint_disabled(profile, reason): a profile turned abnormal and will no longer be called.
- endpoint_recovered(profile): an abnormal profile answered again and was enabled.
"""

from django.dispatch import Signal

event_received = Signal()
account_balance_changed = Signal()
delivery_failed = Signal()
endpoint_disabled = Signal()
endpoint_recovered = Signal()
