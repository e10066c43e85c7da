from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from alerts import receivers
        from alerts.schedules import schedules_register
        from callbacks import signals

        signals.event_received.connect(receivers.on_event_received, dispatch_uid="alerts.event_received")
        signals.account_balance_changed.connect(
            receivers.on_account_balance_changed, dispatch_uid="alerts.account_balance_changed"
        )
        signals.delivery_failed.connect(receivers.on_delivery_failed, dispatch_uid="alerts.delivery_failed")
        signals.endpoint_disabled.connect(receivers.on_endpoint_disabled, dispatch_uid="alerts.endpoint_disabled")
        signals.endpoint_recovered.connect(receivers.on_endpoint_recovered, dispatch_uid="alerts.endpoint_recovered")
        post_migrate.connect(schedules_register, sender=self)
