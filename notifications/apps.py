from django.apps import AppConfig
from django.db.models.signals import post_migrate


class NotificationsConfig(AppConfig):
    """Outgoing webhooks: segment enter/exit events and group moves, signed, retried."""

    name = "notifications"

    def ready(self) -> None:
        from notifications import tasks

        post_migrate.connect(tasks.schedules_ensure, sender=self)
