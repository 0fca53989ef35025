"""Turn the membership ledger and group moves into deliveries: one per refresh per
subscription target, split into pages of at most `PAGE_SIZE` events.

Called after a refresh commits (segments.services call `*_changed_queue` on commit). Each
target keeps a cursor (the last ledger or move id it has turned into deliveries), read and
advanced under a row lock, so events are sent once, in refresh order, and a lost call is
caught up by the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from notifications.models import WebhookDelivery, WebhookTarget
from segments.models import GroupMove, MembershipEvent

PAGE_SIZE = 1000
SEGMENT_EVENT = "segment.members_changed"
GROUP_EVENT = "group_set.moves"


def segment_changed_queue(*, segment_id: int) -> None:
    """After a segment refresh committed: queue the emission when someone follows it."""
    if WebhookTarget.objects.filter(segment_id=segment_id, subscription__active=True).exists():
        async_task(
            "notifications.tasks.segment_deliveries_create_task", segment_id, group="webhooks"
        )


def group_set_changed_queue(*, group_set_id: int) -> None:
    """After a group set refresh with moves committed: the same for its followers."""
    if WebhookTarget.objects.filter(group_set_id=group_set_id, subscription__active=True).exists():
        async_task(
            "notifications.tasks.group_set_deliveries_create_task", group_set_id, group="webhooks"
        )


def _pages(rows: list[dict]) -> list[list[dict]]:
    return [rows[i : i + PAGE_SIZE] for i in range(0, len(rows), PAGE_SIZE)] or [[]]


def _segment_batches(target: WebhookTarget) -> Iterator[tuple[int, list[dict], int]]:
    """(refresh id, events wanted by the subscription, last ledger id of the refresh)."""
    kinds = set(target.subscription.kinds)
    rows = (
        MembershipEvent.all_shops.filter(segment_id=target.segment_id, pk__gt=target.cursor)
        .order_by("pk")
        .values_list("pk", "refresh_id", "shop_id", "customer_id", "kind", "occurred_at")
        .iterator(chunk_size=5000)
    )
    for refresh_id, group in groupby(rows, key=lambda row: row[1]):
        group = list(group)
        events = [
            {"id": pk, "shop": shop, "customer": customer, "kind": kind, "at": at}
            for pk, _, shop, customer, kind, at in group
            if kind in kinds
        ]
        yield refresh_id, events, group[-1][0]


def _move_batches(target: WebhookTarget) -> Iterator[tuple[str, list[dict], int]]:
    """(moment of the refresh, moves wanted, last move id): a group-set refresh writes all its
    moves with one `moved_at`. For one group, a move into it is `entered`, out of it `exited`."""
    kinds = set(target.subscription.kinds)
    rows = (
        GroupMove.all_shops.filter(group_set_id=target.group_set_id, pk__gt=target.cursor)
        .order_by("pk")
        .values_list("pk", "moved_at", "shop_id", "customer_id", "from_group", "to_group")
        .iterator(chunk_size=5000)
    )
    slug = target.group_slug
    for moved_at, group in groupby(rows, key=lambda row: row[1]):
        group = list(group)
        events = []
        for pk, at, shop, customer, from_group, to_group in group:
            kind = "entered" if to_group == slug else "exited" if from_group == slug else None
            if slug and kind not in kinds:
                continue
            event = {"id": pk, "shop": shop, "customer": customer, "from": from_group}
            event |= {"to": to_group, "at": at}
            events.append({**event, "kind": kind} if slug else event)
        yield moved_at.isoformat(), events, group[-1][0]


def _create(target: WebhookTarget, event: str, source: dict, batches) -> list[int]:
    made = []
    for batch_key, events, last_id in batches:
        if events:
            pages = _pages(events)
            for number, page in enumerate(pages, start=1):
                payload = {
                    "event": event,
                    "subscription": target.subscription_id,
                    **source,
                    "batch": batch_key,
                    "page": number,
                    "pages": len(pages),
                    "events": [
                        {**e, "at": e["at"].isoformat().replace("+00:00", "Z")} for e in page
                    ],
                }
                delivery = WebhookDelivery.objects.create(
                    subscription_id=target.subscription_id,
                    target=target,
                    event=event,
                    first_event_id=page[0]["id"],
                    last_event_id=page[-1]["id"],
                    events=len(page),
                    page=number,
                    pages=len(pages),
                    payload=payload,
                    next_attempt_at=timezone.now(),
                )
                made.append(delivery.pk)
        target.cursor = last_id
    target.save(update_fields=["cursor"])
    return made


def _locked_targets(**source):
    return (
        WebhookTarget.objects.select_for_update(of=("self",))
        .select_related("subscription")
        .filter(subscription__active=True, **source)
        .order_by("pk")
    )


@transaction.atomic
def segment_deliveries_create(*, segment_id: int) -> list[int]:
    """Deliveries for every follower of the segment, for the refreshes not yet sent."""
    made = []
    for target in _locked_targets(segment_id=segment_id):
        source = {"segment": segment_id}
        made += _create(target, SEGMENT_EVENT, source, _segment_batches(target))
    transaction.on_commit(lambda: deliveries_send_queue(made))
    return made


@transaction.atomic
def group_set_deliveries_create(*, group_set_id: int) -> list[int]:
    made = []
    for target in _locked_targets(group_set_id=group_set_id):
        source = {"group_set": group_set_id, "group": target.group_slug or None}
        made += _create(target, GROUP_EVENT, source, _move_batches(target))
    transaction.on_commit(lambda: deliveries_send_queue(made))
    return made


def deliveries_send_queue(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        async_task("notifications.tasks.delivery_send_task", delivery_id, group="webhooks")
