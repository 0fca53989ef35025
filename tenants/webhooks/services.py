"""Webhook deliveries: store once, process in a task, retry failures with backoff, never lose one."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tenants.models import Shop
from tenants.scoping import shop_scope
from tenants.webhooks.models import WebhookDelivery
from tenants.webhooks.routing import handler_for, preparer_for

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


def _awaiting_attempt(delivery: WebhookDelivery | None) -> bool:
    if delivery is None or delivery.status != WebhookDelivery.Status.RECEIVED:
        return False
    # A retry queued twice: the backoff has not elapsed yet.
    return not (delivery.next_attempt_at and delivery.next_attempt_at > timezone.now())


def _prepare(delivery: WebhookDelivery) -> tuple[Any, BaseException | None]:
    """Run the topic's prepare step (Shopify reads) outside any transaction: (result, error)."""
    prepare = preparer_for(delivery.topic)
    if prepare is None or not isinstance(delivery.payload, dict):
        return None, None
    try:
        with shop_scope([delivery.shop_id]):
            return prepare(shop=delivery.shop, payload=delivery.payload, delivery=delivery), None
    except Exception as exc:
        return None, exc


@contextmanager
def delivery_transaction() -> Iterator[None]:
    """The transaction a delivery is applied in: committed without waiting for the WAL flush.

    Safe because the delivery row itself was stored durably at intake: if the machine fails
    before the flush, the row is still `received` and the retry sweep applies it again
    (handlers are idempotent). This saves an fsync per webhook (several ms on a loaded disk).
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def _locked_awaiting(delivery: WebhookDelivery, *, flush_wait: bool = True) -> bool:
    """Lock the row and re-read what another worker may have changed; True if still due.

    With `flush_wait=False` (PostgreSQL) the same statement turns off the commit's wait for the
    WAL flush, as `delivery_transaction` does, without another round trip."""
    table = WebhookDelivery._meta.db_table
    no_wait = ", set_config('synchronous_commit', 'off', true)"
    no_wait = no_wait if not flush_wait and connection.vendor == "postgresql" else ""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""  # not SQLite
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status, attempts, next_attempt_at{no_wait} FROM {table}"  # noqa: S608 -- constants
            f" WHERE id = %s{lock}",
            [delivery.pk],
        )
        current = cursor.fetchone()
    if current is None:
        delivery.status = None
        return False
    delivery.status, delivery.attempts, delivery.next_attempt_at = current[:3]
    return _awaiting_attempt(delivery)


def webhook_delivery_process(*, delivery_id: int) -> str | None:
    """Apply a stored delivery through its topic's handler, once. Returns the resulting status.

    The topic's prepare step (a GraphQL re-read) runs first, with no transaction open. Then the
    row is locked for the attempt, so two workers never apply one delivery; a delivery that is
    no longer `received` (processed, ignored, given up) is left alone. The handler's writes and
    the delivery's new status commit together; when the handler fails, all of its writes roll
    back and the failure is recorded in a transaction of its own.
    """
    delivery = WebhookDelivery.all_shops.select_related("shop").filter(pk=delivery_id).first()
    if not _awaiting_attempt(delivery):
        return delivery.status if delivery else None
    prepared, failure = _prepare(delivery)
    if failure is None:
        try:
            with transaction.atomic():  # a delivery_transaction: see _locked_awaiting
                if not _locked_awaiting(delivery, flush_wait=False):
                    return delivery.status
                return _apply(delivery, prepared)
        except Exception as exc:
            failure = exc
    logger.error("webhook delivery %s (%s) failed", delivery.pk, delivery.topic, exc_info=failure)
    with transaction.atomic():
        if not _locked_awaiting(delivery):
            return delivery.status
        delivery.attempts += 1
        _record_failure(delivery, failure)
        delivery.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
    return delivery.status


def _apply(delivery: WebhookDelivery, prepared: Any) -> str:
    """Inside the delivery's transaction, row locked: run the handler, mark the outcome."""
    handler = handler_for(delivery.topic)
    delivery.next_attempt_at = None
    delivery.processed_at = timezone.now()
    if handler is None:
        delivery.status = WebhookDelivery.Status.IGNORED
        delivery.save(update_fields=["status", "next_attempt_at", "processed_at"])
        return delivery.status
    if not isinstance(delivery.payload, dict):
        raise DeliveryUnusable(
            f"{delivery.topic} body is a JSON {type(delivery.payload).__name__}, not an object"
        )
    delivery.attempts += 1  # handlers see which attempt this is
    extra = {"prepared": prepared} if preparer_for(delivery.topic) else {}
    from customers.partitions import mirror_writes_wait  # the mirror's partitions

    mirror_writes_wait(shop_id=delivery.shop_id)  # a first sync's apply commits first
    with shop_scope([delivery.shop_id]):
        handler(shop=delivery.shop, payload=delivery.payload, delivery=delivery, **extra)
    if (
        delivery.topic == "shop/redact"
        and not WebhookDelivery.all_shops.filter(pk=delivery.pk).exists()
    ):
        return WebhookDelivery.Status.PROCESSED  # the shop was erased, this row included
    delivery.status = WebhookDelivery.Status.PROCESSED
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
