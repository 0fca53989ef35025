"""Outgoing webhooks: subscriptions (create, delete) and delivery attempts with backoff."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import audit_event_record
from notifications import signing
from notifications.addresses import UnsafeURL, url_check
from notifications.models import WebhookDelivery, WebhookSubscription, WebhookTarget
from segments.models import GroupMove, GroupSet, MembershipEvent, Segment
from tenants.actors import SYSTEM_ACTOR, Actor
from tenants.models import Agency

KINDS = ("entered", "exited")
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)  # then doubled: 30 s, 1, 2, 4, 8, 16, 32 min (~1 h in all)
SEND_TIMEOUT_SECONDS = 10
# While one worker sends, the delivery is not due for others.
SEND_LEASE = timedelta(seconds=SEND_TIMEOUT_SECONDS * 6)
MAX_TARGETS = 50


@dataclass(frozen=True)
class CreatedSubscription:
    subscription: WebhookSubscription
    secret: str  # shown once


def _targets(agency: Agency, segment_ids, group_set_ids, groups) -> list[WebhookTarget]:
    segments = {s.pk: s for s in Segment.objects.filter(agency=agency, pk__in=segment_ids)}
    unknown = sorted(set(segment_ids) - set(segments))
    if unknown:
        raise ValidationError({"segments": f"Unknown segments: {unknown}."})
    sets = {g.pk: g for g in GroupSet.objects.filter(agency=agency, pk__in=group_set_ids)}
    unknown = sorted(set(group_set_ids) - set(sets))
    if unknown:
        raise ValidationError({"group_sets": f"Unknown group sets: {unknown}."})
    by_slug = {g.slug: g for g in GroupSet.objects.filter(agency=agency).prefetch_related("groups")}
    targets = [WebhookTarget(segment=s) for s in segments.values()]
    targets += [WebhookTarget(group_set=g) for g in sets.values()]
    for name in dict.fromkeys(groups):
        set_slug, _, group_slug = name.partition(":")
        group_set = by_slug.get(set_slug)
        known = {g.slug for g in group_set.groups.all()} | {"other"} if group_set else set()
        if group_slug not in known:
            raise ValidationError({"groups": f"No group {name!r} ('set-slug:group-slug')."})
        targets.append(WebhookTarget(group_set=group_set, group_slug=group_slug))
    if not targets:
        raise ValidationError({"segments": "Follow at least one segment, group set or group."})
    if len(targets) > MAX_TARGETS:
        raise ValidationError({"segments": f"At most {MAX_TARGETS} segments and groups."})
    return targets


@transaction.atomic
def webhook_subscription_create(
    *,
    agency: Agency,
    url: str,
    segment_ids=(),
    group_set_ids=(),
    groups=(),
    kinds=KINDS,
    description: str = "",
    actor: Actor = SYSTEM_ACTOR,
) -> CreatedSubscription:
    """Follow segments (`segment_ids`), whole group sets (`group_set_ids`: every move) and
    single groups (`groups`: 'set-slug:group-slug', moves in and out). Only events after now
    are sent. Raises ValidationError (nothing stored) for a bad URL, kind or id."""
    try:
        url = url_check(url)
    except UnsafeURL as error:
        raise ValidationError({"url": str(error)}) from error
    kinds = list(dict.fromkeys(kinds))
    if not kinds or set(kinds) - set(KINDS):
        raise ValidationError({"kinds": f"One or both of {', '.join(KINDS)}."})
    targets = _targets(agency, list(segment_ids), list(group_set_ids), list(groups))
    secret = signing.secret_new()
    subscription = WebhookSubscription.objects.create(
        agency=agency,
        url=url,
        description=description,
        secret=secret,
        kinds=kinds,
        created_by=actor.user,
    )
    for target in targets:
        target.subscription = subscription
        # Start after what exists: history is read from the API, not replayed here.
        if target.segment_id:
            events = MembershipEvent.all_shops.filter(segment_id=target.segment_id)
        else:
            events = GroupMove.all_shops.filter(group_set_id=target.group_set_id)
        target.cursor = events.aggregate(last=Max("pk"))["last"] or 0
    WebhookTarget.objects.bulk_create(targets)
    audit_event_record(
        agency_id=agency.pk,
        event="webhook_subscription.created",
        target_type="webhook_subscription",
        target_id=subscription.pk,
        data={
            "segments": sorted(t.segment_id for t in targets if t.segment_id),
            "group_sets": sorted({t.group_set_id for t in targets if t.group_set_id}),
            "kinds": kinds,
        },
        **actor.audit_kwargs(),
    )
    return CreatedSubscription(subscription=subscription, secret=secret)


@transaction.atomic
def webhook_subscription_delete(
    *, agency: Agency, subscription_id: int, actor: Actor = SYSTEM_ACTOR
) -> None:
    """Stop sending; the subscription, its targets and its deliveries are deleted."""
    subscription = WebhookSubscription.objects.select_for_update().get(
        pk=subscription_id, agency=agency
    )
    audit_event_record(
        agency_id=agency.pk,
        event="webhook_subscription.deleted",
        target_type="webhook_subscription",
        target_id=subscription.pk,
        data={"deliveries": subscription.deliveries.count()},
        **actor.audit_kwargs(),
    )
    subscription.delete()


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return FIRST_RETRY * (2 ** (attempts - 1))


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for one attempt, unless another worker has it or it is not due."""
    due = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
    ).exclude(next_attempt_at__gt=now)
    return due.update(next_attempt_at=now + SEND_LEASE) == 1


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer, not followed
        return None


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """(status code, error text); error text is empty on a 2xx answer."""
    try:
        url_check(url)  # again at send time: the name may resolve elsewhere now
    except UnsafeURL as error:
        return None, str(error)
    # url_check admitted only http and https.
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=SEND_TIMEOUT_SECONDS) as response:
            response.read(65536)
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, f"HTTP {error.code} {error.reason}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return None, f"{type(error).__name__}: {reason}"


def webhook_delivery_attempt(
    *, delivery_id: int, now: datetime | None = None
) -> WebhookDelivery | None:
    """One signed POST of the delivery, when it is due. A 2xx answer delivers it; anything
    else (other status, timeout, refused connection) schedules the next attempt after an
    exponential backoff, and after MAX_ATTEMPTS marks it failed. None when the delivery is
    gone (its subscription was deleted meanwhile)."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return WebhookDelivery.objects.filter(pk=delivery_id).first()
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id)
    delivery = delivery.first()
    if delivery is None:
        return None
    subscription = delivery.subscription
    body = json.dumps(
        {"delivery": delivery.pk, **delivery.payload}, separators=(",", ":"), sort_keys=True
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Clientele-Webhooks/1",
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature(subscription.secret, timestamp, body),
        signing.DELIVERY_HEADER: str(delivery.pk),
        signing.EVENT_HEADER: delivery.event,
    }
    status_code, error = _post(subscription.url, body, headers)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = status_code
    delivery.last_error = error[:500]
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at, delivery.next_attempt_at = timezone.now(), None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
    else:
        delivery.status = WebhookDelivery.Status.RETRYING
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    delivery.save(
        update_fields=[
            "attempts",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "status",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    return delivery


def webhook_deliveries_due_send(*, now: datetime | None = None, limit: int = 200) -> int:
    """Attempt the deliveries whose time has come, oldest first: retries, and new ones whose
    immediate send was lost (a worker stopped). Returns how many."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(
            status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        webhook_delivery_attempt(delivery_id=delivery_id, now=now)
    return len(due)
