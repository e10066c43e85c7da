"""Writes of the callbacks app. Views, admin, screens and tasks call these; they hold the rules."""


def __getattr__(name: str):
    # `callbacks.services.event_emit` for code in the same process, imported lazily (models load first).
    if name == "event_emit":
        from callbacks.services.events import event_emit

        return event_emit
    raise AttributeError(name)
