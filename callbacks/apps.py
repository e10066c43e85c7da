from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CallbacksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "callbacks"
    verbose_name = "Callbacks"

    def ready(self) -> None:
        # Imported here, once the app registry is ready: these modules import models.
        from django_q.signals import post_spawn

        from callbacks.delivery.stopping import worker_signals_install
        from callbacks.services.announcements import announcements_connect
        from callbacks.services.catalogue import event_types_sync_after_migrate
        from callbacks.tasks import schedules_register

        announcements_connect()
        post_spawn.connect(worker_signals_install, dispatch_uid="callbacks.worker_signals_install")

        post_migrate.connect(event_types_sync_after_migrate, sender=self)
        post_migrate.connect(schedules_register, sender=self)
