from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"

    def ready(self) -> None:
        # Registers the mirror's webhook handlers in the routing table.
        from customers import webhooks  # noqa: F401
