from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CustomersConfig(AppConfig):
    name = "customers"

    def ready(self) -> None:
        # Registers the mirror's webhook handlers in the routing table.
        from customers import (
            schedules,
            webhooks,  # noqa: F401
        )

        post_migrate.connect(schedules.schedules_ensure, sender=self)
