from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self) -> None:
        from tenants import schedules
        from tenants.webhooks import (  # noqa: F401
            admin,  # the deliveries' admin page
            handlers,  # registers the lifecycle and privacy topics
        )

        post_migrate.connect(schedules.schedules_ensure, sender=self)
