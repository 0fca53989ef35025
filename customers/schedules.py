"""Recurring jobs of the mirror created (or corrected) after every migrate (see also migration
0004 for the delta sync)."""

from django_q.models import Schedule

OUTBOX_SWEEP_SCHEDULE = "customers: re-queue lost mirror outbox drains"


def schedules_ensure(**_signal_kwargs) -> None:
    Schedule.objects.update_or_create(
        name=OUTBOX_SWEEP_SCHEDULE,
        defaults={
            "func": "customers.tasks.mirror_changes_sweep_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
