"""django-q2 tasks: take ids, call services. Schedules are created after migrate."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

RELATIVE_DATES_SCHEDULE = "segments:relative-dates-at-midnight"


def schedules_ensure(**_signal_kwargs) -> None:
    Schedule.objects.update_or_create(
        name=RELATIVE_DATES_SCHEDULE,
        defaults={
            "func": "segments.tasks.relative_dates_refresh_task",
            "schedule_type": Schedule.HOURLY,
            "repeats": -1,
        },
    )


def segment_refresh_enqueue(*, segment_id: int, reason: str, actor=None) -> None:
    """`actor`: who caused it (a definition edit), named in the refresh's audit event."""
    user_id = getattr(getattr(actor, "user", None), "pk", None)
    api_key_id = getattr(getattr(actor, "api_key", None), "pk", None)
    async_task(
        "segments.tasks.segment_refresh_task",
        segment_id,
        reason,
        user_id,
        api_key_id,
        group="segments",
    )


def _actor(user_id: int | None, api_key_id: int | None):
    from django.contrib.auth import get_user_model

    from tenants.actors import SYSTEM_ACTOR, Actor
    from tenants.models import ApiKey

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    api_key = ApiKey.objects.filter(pk=api_key_id).first() if api_key_id else None
    return Actor(user=user, api_key=api_key) if user or api_key else SYSTEM_ACTOR


def segment_refresh_task(
    segment_id: int, reason: str, user_id: int | None = None, api_key_id: int | None = None
) -> None:
    from segments.models import Segment
    from segments.services import segment_refresh

    if Segment.objects.filter(pk=segment_id).exists():  # deleted meanwhile: nothing to do
        segment_refresh(segment_id=segment_id, reason=reason, actor=_actor(user_id, api_key_id))


def shop_derived_refresh_enqueue(
    *,
    shop_id: int,
    rescore: bool,
    reason: str,
    customer_ids: list[int] | None = None,
    changed: list[str] | None = None,
) -> None:
    async_task(
        "segments.tasks.shop_derived_refresh_task",
        shop_id,
        rescore,
        reason,
        customer_ids,
        changed,
        group="segments",
    )


def shop_derived_refresh_task(
    shop_id: int,
    rescore: bool,
    reason: str,
    customer_ids: list[int] | None = None,
    changed: list[str] | None = None,
) -> dict[str, list[int]]:
    from segments.services import shop_derived_refresh

    return shop_derived_refresh(
        shop_id=shop_id,
        rescore=rescore,
        reason=reason,
        customer_ids=customer_ids,
        changed=None if changed is None else frozenset(changed),
    )


def shops_at_local_midnight(now: datetime) -> list[int]:
    """Installed shops where it is now between 00:00 and 00:59 local time."""
    from tenants.models import Shop

    return [
        shop.pk
        for shop in Shop.objects.filter(status=Shop.Status.INSTALLED).only("pk", "timezone")
        if now.astimezone(ZoneInfo(shop.timezone or "UTC")).hour == 0
    ]


def relative_dates_refresh_task(now: datetime | None = None) -> list[int]:
    """Hourly: where a day just began, refresh what `-7d` or `today` made move (segments that
    use relative dates, and group sets, whose built-in rules do). Returns the segment ids."""
    from segments.models import GroupSet, Segment
    from segments.services import group_set_refresh, segment_refresh
    from tenants.models import Shop

    now = now or timezone.now()
    refreshed = []
    for shop in Shop.objects.filter(pk__in=shops_at_local_midnight(now)):
        for group_set in (
            GroupSet.objects.filter(agency_id=shop.agency_id)
            .filter(Q(all_shops=True) | Q(shops=shop))
            .distinct()
        ):
            group_set_refresh(group_set_id=group_set.pk, now=now)
        segments = Segment.objects.filter(agency_id=shop.agency_id, uses_relative_dates=True)
        for segment in segments.filter(Q(all_shops=True) | Q(shops=shop)).distinct():
            if segment.pk not in refreshed:
                segment_refresh(segment_id=segment.pk, reason="schedule", now=now)
                refreshed.append(segment.pk)
    return refreshed


def group_tags_write_back_task(group_set_id: int, shop_id: int) -> None:
    from segments.services import group_tags_write_back

    group_tags_write_back(group_set_id=group_set_id, shop_id=shop_id)
