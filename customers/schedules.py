"""Recurring jobs of the mirror created (or corrected) after every migrate (see also migration
0004 for the delta sync)."""

from django_q.models import Schedule

OUTBOX_SWEEP_SCHEDULE = "customers: re-queue lost mirror outbox drains"
SYNC_TABLES_JANITOR_SCHEDULE = "customers: drop what dead full syncs left on disk"


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
    Schedule.objects.update_or_create(
        name=SYNC_TABLES_JANITOR_SCHEDULE,
        defaults={
            "func": "customers.tasks.sync_tables_janitor_task",
            "schedule_type": Schedule.HOURLY,
            "repeats": -1,
        },
    )
