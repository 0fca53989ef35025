"""Webhook deliveries: store once, process in a task, retry failures with backoff, never lose one."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tenants.models import Shop
from tenants.scoping import shop_scope
from tenants.webhooks.models import WebhookDelivery
from tenants.webhooks.routing import handler_for

logger = logging.getLogger(__name__)

# Shopify keeps sending these for a shop that has uninstalled the app; everything else is ignored then.
PRIVACY_TOPICS = frozenset({"shop/redact", "customers/redact", "customers/data_request"})

MAX_ATTEMPTS = 8
FIRST_RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(hours=2)
# A delivery still waiting for its first attempt after this long lost its task (worker crash).
STALLED_AFTER = timedelta(minutes=10)

PROCESS_TASK = "tenants.webhooks.tasks.webhook_delivery_process_task"


class DeliveryUnusable(Exception):
    """A handler's verdict that this payload can never be applied: recorded as failed, not retried."""


@dataclass(frozen=True)
class WebhookHeaders:
    shop_domain: str
    topic: str
    webhook_id: str
    event_id: str = ""
    triggered_at: str = ""
    api_version: str = ""


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the given number of failed attempts: 1, 2, 4, ... minutes, capped."""
    return min(FIRST_RETRY_DELAY * (2 ** max(attempts - 1, 0)), MAX_RETRY_DELAY)


def _enqueue_processing(delivery_id: int) -> None:
    from django_q.tasks import async_task

    async_task(PROCESS_TASK, delivery_id, task_name=f"webhook-delivery-{delivery_id}")


def _shop_accepting(headers: WebhookHeaders) -> Shop | None:
    shop = Shop.objects.filter(domain=headers.shop_domain).first()
    if shop is None:
        logger.info("webhook %s for unknown shop %s ignored", headers.topic, headers.shop_domain)
        return None
    if shop.status != Shop.Status.INSTALLED and headers.topic not in PRIVACY_TOPICS:
        logger.info("webhook %s for uninstalled shop %s ignored", headers.topic, shop.domain)
        return None
    return shop


def _parse_triggered_at(value: str) -> datetime | None:
    try:
        return parse_datetime(value) if value else None
    except ValueError:
        return None


def webhook_delivery_receive(
    *, headers: WebhookHeaders, payload: Any
) -> tuple[WebhookDelivery | None, bool]:
    """Store a verified delivery once; queue its processing on commit.

    Returns (delivery, created). (None, False) when the shop is unknown or no longer installed.
    A repeated delivery (same shop and webhook id) returns the stored row with created=False.
    """
    shop = _shop_accepting(headers)
    if shop is None:
        return None, False
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.all_shops.create(
                shop=shop,
                webhook_id=headers.webhook_id,
                topic=headers.topic,
                event_id=headers.event_id,
                triggered_at=_parse_triggered_at(headers.triggered_at),
                api_version=headers.api_version,
                payload=payload,
                queued_at=timezone.now(),
            )
            transaction.on_commit(lambda: _enqueue_processing(delivery.pk))
    except IntegrityError:
        existing = WebhookDelivery.all_shops.get(shop=shop, webhook_id=headers.webhook_id)
        logger.info("webhook %s delivery %s repeated; acknowledged", headers.topic, existing.pk)
        return existing, False
    return delivery, True


def _record_failure(delivery: WebhookDelivery, error: BaseException) -> None:
    delivery.last_error = f"{type(error).__name__}: {error}"[:4000]
    if delivery.attempts >= MAX_ATTEMPTS or isinstance(error, DeliveryUnusable):
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = timezone.now() + retry_delay(delivery.attempts)


def webhook_delivery_process(*, delivery_id: int) -> str | None:
    """Apply a stored delivery through its topic's handler, once. Returns the resulting status.

    The row is locked for the attempt, so two workers never apply one delivery; a delivery that
    is no longer `received` (processed, ignored, given up) is left alone.
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.all_shops.select_for_update()
            .select_related("shop")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != WebhookDelivery.Status.RECEIVED:
            return delivery.status if delivery else None
        if delivery.next_attempt_at and delivery.next_attempt_at > timezone.now():
            return delivery.status  # a retry queued twice: the backoff has not elapsed yet
        handler = handler_for(delivery.topic)
        if handler is None:
            delivery.status = WebhookDelivery.Status.IGNORED
            delivery.next_attempt_at = None
            delivery.processed_at = timezone.now()
            delivery.save(update_fields=["status", "next_attempt_at", "processed_at"])
            return delivery.status
        delivery.attempts += 1
        try:
            if not isinstance(delivery.payload, dict):
                raise DeliveryUnusable(
                    f"{delivery.topic} body is a JSON {type(delivery.payload).__name__}, not an object"
                )
            with transaction.atomic(), shop_scope([delivery.shop_id]):
                handler(shop=delivery.shop, payload=delivery.payload, delivery=delivery)
        except Exception as exc:
            logger.exception("webhook delivery %s (%s) failed", delivery.pk, delivery.topic)
            _record_failure(delivery, exc)
        else:
            if not WebhookDelivery.all_shops.filter(pk=delivery.pk).exists():
                # shop/redact erased the shop, this row included: nothing left to update.
                return WebhookDelivery.Status.PROCESSED
            delivery.status = WebhookDelivery.Status.PROCESSED
            delivery.processed_at = timezone.now()
            delivery.next_attempt_at = None
            delivery.last_error = ""
        delivery.save(
            update_fields=["status", "attempts", "last_error", "next_attempt_at", "processed_at"]
        )
        return delivery.status


def webhook_deliveries_retry_due(*, now: datetime | None = None) -> list[int]:
    """Queue every delivery whose retry is due, and any whose task was lost. Returns their ids.

    Each row is claimed with a conditional UPDATE first, so overlapping sweeps queue it once.
    """
    now = now or timezone.now()
    pending = WebhookDelivery.all_shops.filter(status=WebhookDelivery.Status.RECEIVED)
    due = pending.filter(next_attempt_at__lte=now)
    lost = pending.filter(next_attempt_at__isnull=True, queued_at__lte=now - STALLED_AFTER)
    claimed = []
    for queryset in (due, lost):
        for delivery_id in queryset.values_list("pk", flat=True):
            # Re-check the condition in the UPDATE: another sweep may have claimed it meanwhile.
            if queryset.filter(pk=delivery_id).update(next_attempt_at=None, queued_at=now):
                claimed.append(delivery_id)
    for delivery_id in claimed:
        transaction.on_commit(lambda delivery_id=delivery_id: _enqueue_processing(delivery_id))
    return sorted(claimed)
