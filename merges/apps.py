from django.apps import AppConfig


class MergesConfig(AppConfig):
    name = "merges"

    def ready(self) -> None:
        from customers import hooks
        from merges import services
        from merges.detection import blocking

        # Blocking keys hold normalised emails, phones and names: erased with the customer.
        hooks.customer_eraser(blocking.blocking_keys_erase)
        hooks.customer_eraser(services.duplicates_erase)
