"""Incremental changes to the mirror: apply GraphQL reads, tombstones, merges, consent, orders.

Every function here is idempotent and order-safe: it compares Shopify's timestamps with what the
row holds and never replaces newer data with older (see customers.writer for the upsert guard).
Webhook handlers (customers.webhooks) and the delta sync call these.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from customers import writer
from customers.mapping import (
    customer_from_graphql,
    customer_gid,
    order_from_graphql,
    order_from_rest,
)
from customers.models import Customer, Order
from tenants.models import Shop


def customers_apply_graphql(*, shop: Shop, nodes: Iterable[dict[str, Any]]) -> writer.UpsertResult:
    """Upsert customers read through GraphQL (complete objects, inline address lists)."""
    rows, addresses = [], {}
    for node in nodes:
        row, address_rows = customer_from_graphql(node, shop_country=shop.country_code)
        rows.append(row)
        addresses[row["shopify_id"]] = address_rows
    with transaction.atomic():
        result = writer.customers_upsert(shop_id=shop.id, rows=rows, addresses=addresses)
        if result.applied:
            local_ids = list(result.applied.values())
            writer.orders_link_customers(shop_id=shop.id, customer_ids=local_ids)
            writer.customer_aggregates_refresh(shop_id=shop.id, customer_ids=local_ids)
    return result


def customer_is_stale(*, shop: Shop, shopify_id: int, changed_at: datetime | None) -> bool:
    """True when the mirror already holds a state at least as new as `changed_at` (or erased it)."""
    current = (
        Customer.all_shops.filter(shop=shop, shopify_id=shopify_id)
        .values("updated_at_shopify", "redacted_at")
        .first()
    )
    if current is None:
        return False
    if current["redacted_at"] is not None:
        return True
    held = current["updated_at_shopify"]
    return changed_at is not None and held is not None and changed_at < held


def customer_tombstone(
    *, shop: Shop, shopify_id: int, deleted_at: datetime, merged_into: Customer | None = None
) -> Customer:
    """Mark a customer deleted (or merged away) as of `deleted_at`; creates the tombstone when the
    delete arrives before the customer. Its updated_at becomes the deletion time, so an older
    update delivered late cannot bring it back."""
    with transaction.atomic():
        customer, _created = Customer.all_shops.select_for_update().get_or_create(
            shop=shop,
            shopify_id=shopify_id,
            defaults={"gid": customer_gid(shopify_id), "updated_at_shopify": deleted_at},
        )
        if customer.deleted_at is None or deleted_at < customer.deleted_at:
            customer.deleted_at = deleted_at
        if customer.updated_at_shopify is None or customer.updated_at_shopify < deleted_at:
            customer.updated_at_shopify = deleted_at
        if merged_into is not None:
            customer.merged_into = merged_into
        customer.mirrored_at = timezone.now()
        customer.save(
            update_fields=["deleted_at", "updated_at_shopify", "merged_into", "mirrored_at"]
        )
    return customer


def customer_merge_apply(
    *,
    shop: Shop,
    kept_node: dict[str, Any] | None,
    kept_shopify_id: int,
    deleted_shopify_id: int,
    merged_at: datetime,
) -> tuple[Customer | None, Customer]:
    """Record a completed merge: refresh the survivor, tombstone the other pointing at it, and move
    the other's orders to the survivor (Shopify moved them)."""
    with transaction.atomic():
        if kept_node is not None:
            customers_apply_graphql(shop=shop, nodes=[kept_node])
        survivor = Customer.all_shops.filter(shop=shop, shopify_id=kept_shopify_id).first()
        gone = customer_tombstone(
            shop=shop, shopify_id=deleted_shopify_id, deleted_at=merged_at, merged_into=survivor
        )
        # Its orders now belong to the survivor: its totals come from the (now empty) order list.
        Customer.all_shops.filter(pk=gone.pk).update(aggregates_from_shopify=False)
        if survivor is not None:
            Order.all_shops.filter(shop=shop, customer_shopify_id=deleted_shopify_id).update(
                customer_id=survivor.id, customer_shopify_id=kept_shopify_id
            )
            writer.customer_aggregates_refresh(shop_id=shop.id, customer_ids=[survivor.id, gone.id])
    return survivor, gone


CONSENT_COLUMNS = {
    "email": (
        "email_marketing_state",
        "email_marketing_opt_in_level",
        "email_marketing_updated_at",
    ),
    "sms": ("sms_marketing_state", "sms_marketing_opt_in_level", "sms_marketing_updated_at"),
}


def customer_consent_apply(
    *,
    shop: Shop,
    shopify_id: int,
    channel: str,
    state: str,
    opt_in_level: str,
    updated_at: datetime | None,
) -> bool:
    """Apply a consent change unless the mirror holds a newer one. False when the customer is
    not in the mirror (the caller reads it from Shopify instead)."""
    state_col, level_col, at_col = CONSENT_COLUMNS[channel]
    customers = Customer.all_shops.filter(shop=shop, shopify_id=shopify_id)
    if not customers.exists():
        return False
    newer = customers.filter(redacted_at__isnull=True)
    if updated_at is not None:
        newer = newer.exclude(**{f"{at_col}__gt": updated_at})
    newer.update(
        **{state_col: state.upper(), level_col: opt_in_level.upper(), at_col: updated_at},
        mirrored_at=timezone.now(),
    )
    return True


def orders_apply(*, shop: Shop, rows: Sequence[dict[str, Any]]) -> writer.UpsertResult:
    """Upsert order rows (REST or GraphQL mapped) and refresh the aggregates they affect."""
    shopify_ids = [r["shopify_id"] for r in rows]
    with transaction.atomic():
        before = set(
            Order.all_shops.filter(shop=shop, shopify_id__in=shopify_ids)
            .exclude(customer_id=None)
            .values_list("customer_id", flat=True)
        )
        result = writer.orders_upsert(shop_id=shop.id, rows=list(rows))
        after = set(
            Order.all_shops.filter(shop=shop, shopify_id__in=shopify_ids)
            .exclude(customer_id=None)
            .values_list("customer_id", flat=True)
        )
        if before | after:
            writer.customer_aggregates_refresh(shop_id=shop.id, customer_ids=sorted(before | after))
    return result


def order_from_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """REST webhook payload or GraphQL node -> order row."""
    if str(payload.get("id", "")).startswith("gid://"):
        return order_from_graphql(payload)
    return order_from_rest(payload)


def order_tombstone(*, shop: Shop, shopify_id: int, deleted_at: datetime) -> Order:
    with transaction.atomic():
        order, _ = Order.all_shops.select_for_update().get_or_create(
            shop=shop, shopify_id=shopify_id, defaults={"updated_at_shopify": deleted_at}
        )
        if order.deleted_at is None:
            order.deleted_at = deleted_at
        if order.updated_at_shopify is None or order.updated_at_shopify < deleted_at:
            order.updated_at_shopify = deleted_at
        order.save(update_fields=["deleted_at", "updated_at_shopify"])
        if order.customer_id:
            writer.customer_aggregates_refresh(shop_id=shop.id, customer_ids=[order.customer_id])
    return order
