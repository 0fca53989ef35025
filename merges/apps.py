from django.apps import AppConfig


class MergesConfig(AppConfig):
    name = "merges"

    def ready(self) -> None:
        from customers import hooks
        from merges import customer_detail, privacy, services, tasks
        from merges.detection import blocking

        # Blocking keys hold normalised emails, phones and names: erased with the customer.
        hooks.customer_eraser(blocking.blocking_keys_erase)
        hooks.customer_eraser(services.duplicates_erase)
        # The fit's name frequencies may hold an erased customer's name.
        hooks.customer_eraser(privacy.matcher_fit_names_erase)
        # New or changed customers (webhooks, delta syncs) are checked against the key table.
        hooks.on_mirror_changed(tasks.mirror_changed)
        # Open candidates show on the customer's API detail.
        hooks.customer_detail_section(customer_detail.customer_detail)
