"""Outgoing webhooks: subscriptions (create, pause, resume, rotate the secret, delete) and
delivery attempts with backoff."""

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
# How long the previous secret keeps signing after a rotation: a day unless asked otherwise.
DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=7)


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


def _locked(agency: Agency, subscription_id: int) -> WebhookSubscription:
    return WebhookSubscription.objects.select_for_update().get(pk=subscription_id, agency=agency)


@transaction.atomic
def webhook_subscription_pause(
    *, agency: Agency, subscription_id: int, actor: Actor = SYSTEM_ACTOR
) -> WebhookSubscription:
    """Stop making and sending deliveries until resumed. Events keep accumulating in the
    ledger behind each target's cursor, and deliveries already made wait (their attempts are
    not used up). Pausing a paused subscription changes nothing (no audit event)."""
    subscription = _locked(agency, subscription_id)
    if not subscription.active:
        return subscription
    subscription.active, subscription.paused_at = False, timezone.now()
    subscription.save(update_fields=["active", "paused_at"])
    audit_event_record(
        agency_id=agency.pk,
        event="webhook_subscription.paused",
        target_type="webhook_subscription",
        target_id=subscription.pk,
        data={"waiting_deliveries": _waiting(subscription).count()},
        **actor.audit_kwargs(),
    )
    return subscription


def _waiting(subscription: WebhookSubscription):
    return WebhookDelivery.objects.filter(
        subscription=subscription,
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
    )


@transaction.atomic
def webhook_subscription_resume(
    *, agency: Agency, subscription_id: int, actor: Actor = SYSTEM_ACTOR
) -> WebhookSubscription:
    """Send again: the deliveries that waited are due now, and after commit the events of
    the pause become deliveries (from each target's cursor) and are sent. Resuming an active
    subscription changes nothing (no audit event)."""
    from notifications.emit import group_set_changed_queue, segment_changed_queue

    subscription = _locked(agency, subscription_id)
    if subscription.active:
        return subscription
    paused_at = subscription.paused_at
    subscription.active, subscription.paused_at = True, None
    subscription.save(update_fields=["active", "paused_at"])
    now = timezone.now()
    waiting = list(_waiting(subscription).values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=waiting).update(next_attempt_at=now)
    audit_event_record(
        agency_id=agency.pk,
        event="webhook_subscription.resumed",
        target_type="webhook_subscription",
        target_id=subscription.pk,
        data={
            "paused_at": paused_at.isoformat() if paused_at else None,
            "waiting_deliveries": len(waiting),
        },
        **actor.audit_kwargs(),
    )
    targets = list(subscription.targets.values_list("segment_id", "group_set_id"))

    def catch_up():
        from notifications.emit import deliveries_send_queue

        deliveries_send_queue(waiting)
        for segment_id in sorted({s for s, _ in targets if s}):
            segment_changed_queue(segment_id=segment_id)
        for group_set_id in sorted({g for _, g in targets if g}):
            group_set_changed_queue(group_set_id=group_set_id)

    transaction.on_commit(catch_up)
    return subscription


@transaction.atomic
def webhook_subscription_secret_rotate(
    *,
    agency: Agency,
    subscription_id: int,
    grace: timedelta = DEFAULT_GRACE,
    actor: Actor = SYSTEM_ACTOR,
) -> CreatedSubscription:
    """A new signing secret (returned once). For `grace` (0 to 7 days) every delivery carries
    the signatures of both the new and the previous secret, so the receiver can switch at any
    moment within it; afterwards only the new one signs. Rotating again within a grace period
    replaces the previous secret with the one being retired now."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise ValidationError({"grace_hours": "Between 0 and 168 hours."})
    subscription = _locked(agency, subscription_id)
    now = timezone.now()
    secret = signing.secret_new()
    until = now + grace if grace else None
    subscription.previous_secret = subscription.secret if grace else ""
    subscription.previous_secret_until = until
    subscription.secret, subscription.secret_rotated_at = secret, now
    subscription.save(
        update_fields=["secret", "previous_secret", "previous_secret_until", "secret_rotated_at"]
    )
    audit_event_record(
        agency_id=agency.pk,
        event="webhook_subscription.secret_rotated",
        target_type="webhook_subscription",
        target_id=subscription.pk,
        # Never a secret: only how long the old one still signs.
        data={
            "grace_hours": grace.total_seconds() / 3600,
            "previous_valid_until": until.isoformat() if until else None,
        },
        **actor.audit_kwargs(),
    )
    return CreatedSubscription(subscription=subscription, secret=secret)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return FIRST_RETRY * (2 ** (attempts - 1))


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for one attempt, unless another worker has it or it is not due."""
    due = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
        subscription__active=True,  # a paused subscription's deliveries wait
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
        signing.SIGNATURE_HEADER: signing.signatures(
            subscription.signing_secrets(now), timestamp, body
        ),
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
            subscription__active=True,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        webhook_delivery_attempt(delivery_id=delivery_id, now=now)
    return len(due)
