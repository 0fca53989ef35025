"""django-q2 tasks of outgoing webhooks: take ids, call services. The minute schedule sends
the deliveries whose retry time has come."""

from django_q.models import Schedule

DUE_SCHEDULE = "notifications:webhook-retries"


def schedules_ensure(**_signal_kwargs) -> None:
    Schedule.objects.update_or_create(
        name=DUE_SCHEDULE,
        defaults={
            "func": "notifications.tasks.deliveries_due_send_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def segment_deliveries_create_task(segment_id: int) -> None:
    from notifications.emit import segment_deliveries_create

    segment_deliveries_create(segment_id=segment_id)


def group_set_deliveries_create_task(group_set_id: int) -> None:
    from notifications.emit import group_set_deliveries_create

    group_set_deliveries_create(group_set_id=group_set_id)


def delivery_send_task(delivery_id: int) -> None:
    from notifications.services import webhook_delivery_attempt

    webhook_delivery_attempt(delivery_id=delivery_id)


def deliveries_due_send_task() -> int:
    from notifications.services import webhook_deliveries_due_send

    return webhook_deliveries_due_send()
