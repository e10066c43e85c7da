"""What the callbacks app announces; other apps (alerts) listen. `callbacks` never imports them.

- delivery_failed(delivery, attempt, failure_class): an attempt failed (any non-success outcome).
- endpoint_disabled(profile, reason): a profile turned abnormal and will no longer be called.
- endpoint_recovered(profile): an abnormal profile answered again and was enabled.
"""

from django.dispatch import Signal

delivery_failed = Signal()
endpoint_disabled = Signal()
endpoint_recovered = Signal()
