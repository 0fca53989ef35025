"""Recurring jobs of the tenants app, created (or corrected) after every migrate."""

from django_q.models import Schedule

WEBHOOK_RETRY_SCHEDULE = "webhooks:retry-due"


def schedules_ensure(**_signal_kwargs) -> None:
    Schedule.objects.update_or_create(
        name=WEBHOOK_RETRY_SCHEDULE,
        defaults={
            "func": "tenants.webhooks.tasks.webhook_deliveries_retry_due_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
