"""django-q2 tasks for webhook deliveries: thin, they take ids and call the services."""

from tenants.webhooks.services import webhook_deliveries_retry_due, webhook_delivery_process


def webhook_delivery_process_task(delivery_id: int) -> str | None:
    return webhook_delivery_process(delivery_id=delivery_id)


def webhook_deliveries_retry_due_task() -> int:
    """Scheduled every minute (see tenants.schedules)."""
    return len(webhook_deliveries_retry_due())
