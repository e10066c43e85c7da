"""Business events the callbacks app emits about its own callbacks, on the engine's signals.

The engine (callbacks.delivery) announces a profile turning abnormal with `endpoint_disabled`; this
module turns that into the `callback.profile_disabled` event for subscribed callbacks, so the engine
never reaches up into the services.
"""

from __future__ import annotations

from typing import Any

from callbacks import event_types, signals
from callbacks.models import CallbackProfile
from callbacks.services.events import event_emit


def profile_disabled_event_emit(*, profile: CallbackProfile, reason: str, **kwargs: Any) -> None:
    """Emit `callback.profile_disabled` for a profile the engine has just turned abnormal."""
    event_emit(
        account=profile.account,
        type=event_types.CALLBACK_PROFILE_DISABLED,
        data={"profile_id": str(profile.pk), "name": profile.name, "reason": reason},
    )


def announcements_connect() -> None:
    """Connect the receivers above (the app's ready())."""
    signals.endpoint_disabled.connect(profile_disabled_event_emit, dispatch_uid="callbacks.profile_disabled_event")
