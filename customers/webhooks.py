"""Webhook handlers that keep the mirror current (registered from CustomersConfig.ready()).

Customer payloads are partial (Shopify's 2026 sample has no tags, consent or totals), so a
customer change is treated as a notification: unless the mirror already holds something at least
as new, the customer is re-read through GraphQL and that complete state is applied. A customer
that no longer exists on Shopify is tombstoned. Consent and order payloads carry their own full
state and timestamps, and are applied directly.
"""

import logging
from datetime import datetime
from typing import Any

from django.utils import timezone

from customers import incremental
from customers.hooks import AGGREGATE_FIELDS, ORDERS_CHANGED, mirror_changed_notify
from customers.mapping import customer_gid, gid_id, parse_datetime
from customers.models import Customer
from tenants.webhooks.routing import webhook_handler
from tenants.webhooks.services import DeliveryUnusable

logger = logging.getLogger(__name__)


def _payload_id(value: Any) -> int | None:
    """A payload's customer/order id; an id that is not a number can never be applied."""
    try:
        return gid_id(value)
    except (TypeError, ValueError) as exc:
        raise DeliveryUnusable(f"id {value!r} is not a Shopify id") from exc


def _event_time(payload: dict[str, Any], delivery, *keys: str) -> datetime:
    for key in keys:
        if payload.get(key):
            return parse_datetime(payload[key])
    return getattr(delivery, "triggered_at", None) or timezone.now()


def _customer_refresh(shop, shopify_id: int) -> list[int]:
    """Re-read one customer from Shopify and apply it; tombstone it if Shopify no longer has it."""
    from tenants.shopify import operations
    from tenants.shopify.errors import ShopifyNotFound

    try:
        node = operations.customer_fetch(shop, customer_gid(shopify_id))
    except ShopifyNotFound:
        customer = incremental.customer_tombstone(
            shop=shop, shopify_id=shopify_id, deleted_at=timezone.now()
        )
        return [customer.id]
    result = incremental.customers_apply_graphql(shop=shop, nodes=[node])
    return list(result.applied.values())


# What each kind of delivery may change (customers.hooks: Customer field names + "orders").
TAGS_CHANGED = frozenset({"tags", "tags_normalized", "updated_at_shopify"})
TOMBSTONE_CHANGED = frozenset({"deleted_at", "merged_into", "updated_at_shopify"})
ORDER_CHANGED = frozenset({ORDERS_CHANGED, *AGGREGATE_FIELDS})


def _consent_changed(channel: str) -> frozenset[str]:
    return frozenset(incremental.CONSENT_COLUMNS[channel])


def _notify(shop, customer_ids: list[int], changed: frozenset[str] | None) -> None:
    if customer_ids:
        mirror_changed_notify(
            shop_id=shop.id, customer_ids=customer_ids, reason="webhook", changed=changed
        )


@webhook_handler("customers/create")
@webhook_handler("customers/update")
@webhook_handler("customers/enable")
@webhook_handler("customers/disable")
def apply_customer_change(*, shop, payload, delivery) -> None:
    shopify_id = _payload_id(payload.get("id"))
    if shopify_id is None:
        raise DeliveryUnusable("customer payload has no id")
    changed_at = _event_time(payload, delivery, "updated_at")
    if incremental.customer_is_stale(shop=shop, shopify_id=shopify_id, changed_at=changed_at):
        return
    _notify(shop, _customer_refresh(shop, shopify_id), None)


@webhook_handler("customer.tags_added")
@webhook_handler("customer.tags_removed")
def apply_customer_tags_change(*, shop, payload, delivery) -> None:
    shopify_id = _payload_id(payload.get("customerId") or payload.get("customer_id"))
    if shopify_id is None:
        raise DeliveryUnusable("tags payload has no customerId")
    changed_at = _event_time(payload, delivery, "occurredAt")
    if incremental.customer_is_stale(shop=shop, shopify_id=shopify_id, changed_at=changed_at):
        return
    _notify(shop, _customer_refresh(shop, shopify_id), TAGS_CHANGED)


@webhook_handler("customers/delete")
def apply_customer_delete(*, shop, payload, delivery) -> None:
    shopify_id = _payload_id(payload.get("id"))
    if shopify_id is None:
        raise DeliveryUnusable("customers/delete payload has no id")
    deleted_at = _event_time(payload, delivery)
    customer = incremental.customer_tombstone(
        shop=shop, shopify_id=shopify_id, deleted_at=deleted_at
    )
    _notify(shop, [customer.id], TOMBSTONE_CHANGED)


@webhook_handler("customers/merge")
def apply_customer_merge(*, shop, payload, delivery) -> None:
    kept = _payload_id(payload.get("admin_graphql_api_customer_kept_id"))
    deleted = _payload_id(payload.get("admin_graphql_api_customer_deleted_id"))
    if kept is None or deleted is None:
        raise DeliveryUnusable(
            "customers/merge payload needs the kept and the deleted customer ids"
        )
    status = str(payload.get("status") or "").lower()
    if status == "failed" or payload.get("errors"):
        logger.info(
            "customers/merge %s -> %s did not complete (%s); mirror unchanged",
            deleted,
            kept,
            status,
        )
        return
    from tenants.shopify import operations
    from tenants.shopify.errors import ShopifyNotFound

    try:
        kept_node = operations.customer_fetch(shop, customer_gid(kept))
    except ShopifyNotFound:
        kept_node = None  # the survivor changed again since; a later webhook or delta brings it
    survivor, gone = incremental.customer_merge_apply(
        shop=shop,
        kept_node=kept_node,
        kept_shopify_id=kept,
        deleted_shopify_id=deleted,
        merged_at=_event_time(payload, delivery),
    )
    # The survivor was re-read whole and took over the other's orders.
    _notify(shop, [c.id for c in (survivor, gone) if c is not None], None)


@webhook_handler("customers_email_marketing_consent/update")
def apply_email_consent(*, shop, payload, delivery) -> None:
    shopify_id = _payload_id(payload.get("customer_id"))
    consent = payload.get("email_marketing_consent") or {}
    if shopify_id is None or not consent.get("state"):
        raise DeliveryUnusable(
            "email consent payload needs customer_id and email_marketing_consent.state"
        )
    _consent(shop, shopify_id, "email", consent)


@webhook_handler("customers_marketing_consent/update")
def apply_sms_consent(*, shop, payload, delivery) -> None:
    shopify_id = _payload_id(payload.get("id") or payload.get("customer_id"))
    consent = payload.get("sms_marketing_consent") or {}
    if shopify_id is None or not consent.get("state"):
        raise DeliveryUnusable("SMS consent payload needs id and sms_marketing_consent.state")
    _consent(shop, shopify_id, "sms", consent)


def _consent(shop, shopify_id: int, channel: str, consent: dict[str, Any]) -> None:
    applied = incremental.customer_consent_apply(
        shop=shop,
        shopify_id=shopify_id,
        channel=channel,
        state=str(consent["state"]),
        opt_in_level=str(consent.get("opt_in_level") or ""),
        updated_at=parse_datetime(consent.get("consent_updated_at")),
    )
    if applied:
        ids = list(
            Customer.all_shops.filter(shop=shop, shopify_id=shopify_id).values_list("id", flat=True)
        )
        _notify(shop, ids, _consent_changed(channel))
    else:
        _notify(shop, _customer_refresh(shop, shopify_id), None)


@webhook_handler("orders/create")
@webhook_handler("orders/updated")
@webhook_handler("orders/cancelled")
def apply_order_change(*, shop, payload, delivery) -> None:
    if _payload_id(payload.get("id")) is None:
        raise DeliveryUnusable("order payload has no id")
    try:
        row = incremental.order_from_payload(payload)
    except (KeyError, TypeError, ValueError) as exc:  # a malformed payload, not a passing fault
        raise DeliveryUnusable(f"order payload cannot be read: {exc}") from exc
    incremental.orders_apply(shop=shop, rows=[row])
    if row["product_ids"] and "product_tags" not in row:
        _order_refresh(shop, row["shopify_id"])
    _after_order_change(shop, row.get("customer_shopify_id"))


def _order_refresh(shop, shopify_id: int) -> None:
    """REST line items have no product tags: read the order through GraphQL for them."""
    from tenants.shopify import operations
    from tenants.shopify.errors import ShopifyNotFound

    try:
        node = operations.order_fetch(shop, f"gid://shopify/Order/{shopify_id}")
    except ShopifyNotFound:
        return  # deleted meanwhile; its orders/delete webhook tombstones it
    incremental.orders_apply(shop=shop, rows=[incremental.order_from_payload(node)])


@webhook_handler("orders/delete")
def apply_order_delete(*, shop, payload, delivery) -> None:
    shopify_id = _payload_id(payload.get("id"))
    if shopify_id is None:
        raise DeliveryUnusable("orders/delete payload has no id")
    order = incremental.order_tombstone(
        shop=shop, shopify_id=shopify_id, deleted_at=_event_time(payload, delivery)
    )
    _after_order_change(shop, order.customer_shopify_id)


def _after_order_change(shop, customer_shopify_id: int | None) -> None:
    """Shopify's own totals for the customer changed too: re-read them when the mirror uses them."""
    if customer_shopify_id is None:
        return
    customer = Customer.all_shops.filter(shop=shop, shopify_id=customer_shopify_id).first()
    if customer is None:
        _notify(shop, _customer_refresh(shop, customer_shopify_id), None)
    elif customer.aggregates_from_shopify:
        _notify(shop, _customer_refresh(shop, customer_shopify_id), ORDER_CHANGED)
    else:
        _notify(shop, [customer.id], ORDER_CHANGED)
