"""Incremental changes to the mirror: apply GraphQL reads, tombstones, merges, consent, orders.

Every function here is idempotent and order-safe: it compares Shopify's timestamps with what the
row holds and never replaces newer data with older (see customers.writer for the upsert guard).
Webhook handlers (customers.webhooks) and the delta sync call these. Each waits for a first
sync's apply in progress before its first statement when the shop has no partitions yet
(`partitions.mirror_writes_wait`: once per transaction; nothing for shops with partitions),
whoever calls it, and names its shop in every statement.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from customers import writer
from customers.hooks import ORDERS_CHANGED
from customers.mapping import (
    customer_from_graphql,
    customer_gid,
    order_from_graphql,
    order_from_rest,
)
from customers.models import Customer, CustomerAddress, Order
from customers.partitions import mirror_writes_wait
from tenants.models import Shop


def customers_apply_graphql(*, shop: Shop, nodes: Iterable[dict[str, Any]]) -> writer.UpsertResult:
    """Upsert customers read through GraphQL (complete objects, inline address lists)."""
    rows, addresses = [], {}
    for node in nodes:
        row, address_rows = customer_from_graphql(node, shop_country=shop.country_code)
        rows.append(row)
        addresses[row["shopify_id"]] = address_rows
    result, _linked = _customers_write(shop=shop, rows=rows, addresses=addresses)
    return result


def _customers_write(
    *, shop: Shop, rows: list[dict[str, Any]], addresses: dict[int, list[dict[str, Any]]]
) -> tuple[writer.UpsertResult, int]:
    """Upsert, link orders that arrived first, refresh aggregates: (result, orders linked)."""
    linked = 0
    with transaction.atomic(savepoint=False):
        mirror_writes_wait(shop_id=shop.id)
        result = writer.customers_upsert(shop_id=shop.id, rows=rows, addresses=addresses)
        if result.applied:
            local_ids = list(result.applied.values())
            linked = writer.orders_link_customers(shop_id=shop.id, customer_ids=local_ids)
            writer.customer_aggregates_refresh(shop_id=shop.id, customer_ids=local_ids)
    return result, linked


# Bookkeeping columns: they change on every write and mean nothing to consumers.
_BOOKKEEPING = {"mirrored_at", "last_seen_sync_run_id"}
_COMPARED_FIELDS = [
    f.name
    for f in Customer._meta.concrete_fields
    if f.name not in {"id", "shop", "shopify_id", *_BOOKKEEPING}
]
_ADDRESS_FIELDS = [
    "shopify_id", "is_default", "first_name", "last_name", "company", "address1", "address2",
    "city", "province_code", "country_code", "zip", "phone",
]  # fmt: skip


def _customer_state(shop: Shop, shopify_id: int) -> dict[str, Any] | None:
    return (
        Customer.all_shops.filter(shop=shop, shopify_id=shopify_id)
        .values("id", *_COMPARED_FIELDS)
        .first()
    )


def _addresses_of(customer_id: int) -> set[tuple]:
    return set(
        CustomerAddress.all_shops.filter(customer_id=customer_id).values_list(*_ADDRESS_FIELDS)
    )


def customer_apply_read(
    *, shop: Shop, shopify_id: int, node: dict[str, Any] | None, read_at: datetime
) -> tuple[list[int], frozenset[str] | None]:
    """Apply one customer as just read from Shopify (None: Shopify no longer has it).

    Returns (local ids changed, names of the Customer fields that changed: None for a new
    customer, "addresses" when its address list changed, "orders" when orders got linked to it).
    A read older than what the mirror holds changes nothing: ([], frozenset()).
    """
    if node is None:
        customer = customer_tombstone(shop=shop, shopify_id=shopify_id, deleted_at=read_at)
        return [customer.id], TOMBSTONE_CHANGED
    row, address_rows = customer_from_graphql(node, shop_country=shop.country_code)
    with transaction.atomic(savepoint=False):
        mirror_writes_wait(shop_id=shop.id)  # before its first read
        before = _customer_state(shop, row["shopify_id"])
        old_addresses = _addresses_of(before["id"]) if before else set()
        result, linked = _customers_write(
            shop=shop, rows=[row], addresses={row["shopify_id"]: address_rows}
        )
        if not result.applied:
            return [], frozenset()
        local_id = result.applied[row["shopify_id"]]
        if before is None:
            return [local_id], None
        after = _customer_state(shop, row["shopify_id"])
        changed = {name for name in _COMPARED_FIELDS if before[name] != after[name]}
        if _addresses_of(local_id) != old_addresses:
            changed.add("addresses")
        if linked:
            changed.add(ORDERS_CHANGED)
    return ([local_id], frozenset(changed)) if changed else ([], frozenset())


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


# What a tombstone (delete, merged away, gone on Shopify) changes.
TOMBSTONE_CHANGED = frozenset({"deleted_at", "merged_into", "updated_at_shopify"})


def customer_tombstone(
    *, shop: Shop, shopify_id: int, deleted_at: datetime, merged_into: Customer | None = None
) -> Customer:
    """Mark a customer deleted (or merged away) as of `deleted_at`; creates the tombstone when the
    delete arrives before the customer. Its updated_at becomes the deletion time, so an older
    update delivered late cannot bring it back."""
    with transaction.atomic():
        mirror_writes_wait(shop_id=shop.id)
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
        mirror_writes_wait(shop_id=shop.id)
        if kept_node is not None:
            customers_apply_graphql(shop=shop, nodes=[kept_node])
        survivor = Customer.all_shops.filter(shop=shop, shopify_id=kept_shopify_id).first()
        gone = customer_tombstone(
            shop=shop, shopify_id=deleted_shopify_id, deleted_at=merged_at, merged_into=survivor
        )
        # Its orders now belong to the survivor: its totals come from the (now empty) order list.
        Customer.all_shops.filter(shop=shop, pk=gone.pk).update(aggregates_from_shopify=False)
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
) -> int | None:
    """Apply a consent change unless the mirror holds a newer one: the local id of the customer
    it changed, 0 when the mirror's is newer (or erased), None when the customer is not in the
    mirror (the caller reads it from Shopify instead)."""
    state_col, level_col, at_col = CONSENT_COLUMNS[channel]
    mirror_writes_wait(shop_id=shop.id)  # the caller's transaction (a delivery's)
    adapt = connection.ops.adapt_datetimefield_value
    guard, params = "", []
    if updated_at is not None:
        guard, params = f" AND ({at_col} IS NULL OR {at_col} <= %s)", [adapt(updated_at)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE customers_customer SET {state_col} = %s, {level_col} = %s, {at_col} = %s,"  # noqa: S608 -- column names are constants
            " mirrored_at = %s WHERE shop_id = %s AND shopify_id = %s AND redacted_at IS NULL"
            f"{guard} RETURNING id",
            [
                state.upper(),
                opt_in_level.upper(),
                adapt(updated_at),
                adapt(timezone.now()),
                shop.id,
                shopify_id,
                *params,
            ],
        )
        updated = cursor.fetchone()
    if updated is not None:
        return updated[0]
    return 0 if Customer.all_shops.filter(shop=shop, shopify_id=shopify_id).exists() else None


class OrderOwners(NamedTuple):
    """What an order write changed: the local ids of the customers whose orders changed (owners
    before and after), and those among them whose live orders' products changed."""

    changed: set[int]
    products: set[int]


def orders_apply(
    *, shop: Shop, rows: Sequence[dict[str, Any]], owner_ids: dict[int, int] | None = None
) -> OrderOwners:
    """Upsert order rows (REST or GraphQL mapped) and refresh the aggregates they affect.

    `owner_ids` (customer shopify id -> local id, when the caller looked them up) saves the
    lookup. Returns the customers whose orders changed; none when every row was older than the
    mirror's or equal to it (a late or repeated delivery), and then the aggregates are not
    recomputed either."""
    owner_ids = owner_ids or {}
    rows = [{**r, "customer_id": owner_ids.get(r["customer_shopify_id"])} for r in rows]
    columns = [c for c in rows[0] if c not in ("shopify_id", "customer_shopify_id", "customer_id")]
    with transaction.atomic(savepoint=False):
        mirror_writes_wait(shop_id=shop.id)
        before = {
            held["shopify_id"]: held
            for held in Order.all_shops.filter(
                shop=shop, shopify_id__in=[r["shopify_id"] for r in rows]
            ).values("shopify_id", "customer_id", "customer_shopify_id", "deleted_at", *columns)
        }
        result = writer.orders_upsert(shop_id=shop.id, rows=rows)
        applied = [r for r in rows if r["shopify_id"] in result.applied]
        if not any(_order_differs(r, before.get(r["shopify_id"]), columns) for r in applied):
            return OrderOwners(set(), set())
        owners_before = {held["customer_id"] for held in before.values() if held["customer_id"]}
        missing = {r["customer_shopify_id"] for r in rows if r["customer_shopify_id"]} - set(
            owner_ids
        )
        local = {**owner_ids, **writer.customer_local_ids(shop_id=shop.id, shopify_ids=missing)}
        touched = owners_before | set(local.values())
        if touched:
            writer.customer_aggregates_refresh(shop_id=shop.id, customer_ids=sorted(touched))
        products = set()
        for row in applied:
            was = _products_held(before.get(row["shopify_id"]))
            now = (local.get(row["customer_shopify_id"]), _live_products(row))
            if was != now:
                products.update(owner for owner, bought in (was, now) if owner and bought)
    return OrderOwners(touched, products)


def _live_products(order: dict[str, Any]) -> frozenset:
    """The products an order row counts for in the duplicate detector's order history."""
    if order.get("is_test") or order.get("deleted_at") is not None:
        return frozenset()
    return frozenset(order.get("product_ids") or ())


def _products_held(held: dict[str, Any] | None) -> tuple[int | None, frozenset]:
    return (None, frozenset()) if held is None else (held["customer_id"], _live_products(held))


def orders_delta_apply(
    *, shop: Shop, nodes: Iterable[dict[str, Any]], page_size: int = 100
) -> tuple[int, OrderOwners]:
    """Apply orders a delta re-read from Shopify (GraphQL nodes), a transaction per page:
    (orders read, the customers whose orders changed). Orders are what a missed orders/*
    webhook leaves behind: the customer re-read heals Shopify's totals, not the rows segments
    and duplicate detection read (products, financial status, cancellation)."""
    read, touched = 0, OrderOwners(set(), set())
    page: list[dict[str, Any]] = []
    for node in [*nodes, None]:
        if node is not None:
            page.append(order_from_payload(node))
        if page and (node is None or len(page) >= page_size):
            with transaction.atomic():
                owners = orders_apply(shop=shop, rows=page)
            touched.changed.update(owners.changed)
            touched.products.update(owners.products)
            read, page = read + len(page), []
    return read, touched


def _order_differs(row: dict[str, Any], held: dict[str, Any] | None, columns: list[str]) -> bool:
    if held is None or held["customer_id"] is None or held["deleted_at"] is not None:
        return True  # new, not linked to its customer yet, or revived by the upsert
    return any(held[c] != row[c] for c in [*columns, "customer_shopify_id"])


def order_from_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """REST webhook payload or GraphQL node -> order row."""
    if str(payload.get("id", "")).startswith("gid://"):
        return order_from_graphql(payload)
    return order_from_rest(payload)


def order_tombstone(*, shop: Shop, shopify_id: int, deleted_at: datetime) -> tuple[Order, bool]:
    """Mark an order deleted as of `deleted_at` (creates the tombstone when the delete arrives
    first): (the order, whether its customer's live orders lost products)."""
    with transaction.atomic():
        mirror_writes_wait(shop_id=shop.id)
        order, _ = Order.all_shops.select_for_update().get_or_create(
            shop=shop, shopify_id=shopify_id, defaults={"updated_at_shopify": deleted_at}
        )
        products_lost = order.deleted_at is None and bool(
            _live_products({"is_test": order.is_test, "product_ids": order.product_ids})
        )
        if order.deleted_at is None:
            order.deleted_at = deleted_at
        if order.updated_at_shopify is None or order.updated_at_shopify < deleted_at:
            order.updated_at_shopify = deleted_at
        order.save(update_fields=["deleted_at", "updated_at_shopify"])
        if order.customer_id:
            writer.customer_aggregates_refresh(shop_id=shop.id, customer_ids=[order.customer_id])
    return order, products_lost and order.customer_id is not None
