"""Conventions that let a shop's background jobs be found and stopped when it uninstalls.

- Schedules that work on one shop are named `shop:<id>:<what>`.
- Queued tasks that work on one shop are enqueued with `group=shop_job_group(shop_id)`.
"""

import logging

from django_q.models import OrmQ, Schedule

logger = logging.getLogger(__name__)


def shop_job_group(shop_id: int) -> str:
    return f"shop:{shop_id}"


def shop_schedule_name(shop_id: int, what: str) -> str:
    return f"{shop_job_group(shop_id)}:{what}"


def shop_jobs_stop(*, shop_id: int) -> dict[str, int]:
    """Delete the shop's schedules and its tasks still waiting in the ORM queue; returns counts.

    With the Redis broker queued tasks cannot be picked out; every shop task therefore also checks
    at its start that the shop is still installed.
    """
    schedules, _ = Schedule.objects.filter(
        name__startswith=shop_schedule_name(shop_id, "")
    ).delete()
    group = shop_job_group(shop_id)
    queued_ids = [queued.pk for queued in OrmQ.objects.all() if queued.task.get("group") == group]
    OrmQ.objects.filter(pk__in=queued_ids).delete()
    if schedules or queued_ids:
        logger.info(
            "shop %s: %s schedules, %s queued tasks stopped", shop_id, schedules, len(queued_ids)
        )
    return {"schedules": schedules, "queued_tasks": len(queued_ids)}
