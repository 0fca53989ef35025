from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CustomersConfig(AppConfig):
    name = "customers"

    def ready(self) -> None:
        # The `has_tag` lookup on text fields, and the mirror's webhook handlers in the routing
        # table: both register themselves on import.
        from customers import (
            lookups,  # noqa: F401
            schedules,
            webhooks,  # noqa: F401
        )

        post_migrate.connect(schedules.schedules_ensure, sender=self)
