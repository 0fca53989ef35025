"""Webhook handlers that keep the mirror current (registered from CustomersConfig.ready()).

Customer payloads are partial (Shopify's 2026 sample has no tags, consent or totals), so a
customer change is treated as a notification: unless the mirror already holds something at least
as new, the customer is re-read through GraphQL and that complete state is applied. A customer
that no longer exists on Shopify is tombstoned. Consent and order payloads carry their own full
state and timestamps, and are applied directly.

Each topic has two steps (tenants.webhooks.routing): `prepare` parses the payload and does every
Shopify read with no transaction open; the handler then applies the result inside the delivery's
transaction, never calling Shopify. What changed goes to the outbox (customers.outbox), whose
drain calls the `mirror_changed` hooks once per batch, after commit.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from customers import incremental
from customers.hooks import ORDER_CHANGED, ORDER_PRODUCTS_CHANGED
from customers.mapping import customer_gid, gid_id, parse_datetime
from customers.models import Customer, Order
from customers.outbox import mirror_change_record
from customers.privacy import delivery_payload_erase_if_redacted
from tenants.webhooks.routing import webhook_handler
from tenants.webhooks.services import DeliveryUnusable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CustomerRead:
    """A customer as Shopify had it at `read_at`; `node` None when Shopify no longer has it."""

    shopify_id: int
    node: dict[str, Any] | None
    read_at: datetime


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


def _customer_read(shop, shopify_id: int) -> CustomerRead:
    """Read one customer from Shopify (prepare steps only: never inside a transaction)."""
    from tenants.shopify import operations
    from tenants.shopify.errors import ShopifyNotFound

    read_at = timezone.now()
    try:
        node = operations.customer_fetch(shop, customer_gid(shopify_id))
    except ShopifyNotFound:
        node = None
    return CustomerRead(shopify_id=shopify_id, node=node, read_at=read_at)


def _erase_if_redacted(shop, delivery, *shopify_customer_ids: int | None) -> None:
    delivery_payload_erase_if_redacted(
        shop=shop, delivery=delivery, shopify_customer_ids=shopify_customer_ids
    )


def _record(shop, customer_ids: list[int], changed: frozenset[str] | None) -> None:
    if customer_ids and changed != frozenset():
        mirror_change_record(
            shop_id=shop.id, customer_ids=customer_ids, changed=changed, reason="webhook"
        )


def _apply_read(shop, read: CustomerRead | None) -> None:
    if read is not None:
        _record(shop, *incremental.customer_apply_read(
            shop=shop, shopify_id=read.shopify_id, node=read.node, read_at=read.read_at
        ))  # fmt: skip


# --- customers/create|update|enable|disable, customer.tags_added|tags_removed ------------------


def _read_unless_stale(shop, shopify_id: int, changed_at: datetime) -> CustomerRead | None:
    if incremental.customer_is_stale(shop=shop, shopify_id=shopify_id, changed_at=changed_at):
        return None
    return _customer_read(shop, shopify_id)


def prepare_customer_change(*, shop, payload, delivery) -> CustomerRead | None:
    shopify_id = _payload_id(payload.get("id"))
    if shopify_id is None:
        raise DeliveryUnusable("customer payload has no id")
    return _read_unless_stale(shop, shopify_id, _event_time(payload, delivery, "updated_at"))


@webhook_handler("customers/create", prepare=prepare_customer_change)
@webhook_handler("customers/update", prepare=prepare_customer_change)
@webhook_handler("customers/enable", prepare=prepare_customer_change)
@webhook_handler("customers/disable", prepare=prepare_customer_change)
def apply_customer_change(*, shop, payload, delivery, prepared: CustomerRead | None) -> None:
    _apply_read(shop, prepared)
    _erase_if_redacted(shop, delivery, _payload_id(payload.get("id")))


def prepare_customer_tags_change(*, shop, payload, delivery) -> CustomerRead | None:
    shopify_id = _payload_id(payload.get("customerId") or payload.get("customer_id"))
    if shopify_id is None:
        raise DeliveryUnusable("tags payload has no customerId")
    return _read_unless_stale(shop, shopify_id, _event_time(payload, delivery, "occurredAt"))


@webhook_handler("customer.tags_added", prepare=prepare_customer_tags_change)
@webhook_handler("customer.tags_removed", prepare=prepare_customer_tags_change)
def apply_customer_tags_change(*, shop, payload, delivery, prepared: CustomerRead | None) -> None:
    # The whole customer was re-read: record what actually differs (normally just the tags).
    _apply_read(shop, prepared)
    customer = payload.get("customerId") or payload.get("customer_id")
    _erase_if_redacted(shop, delivery, _payload_id(customer))


# --- customers/delete, customers/merge ---------------------------------------------------------


@webhook_handler("customers/delete")
def apply_customer_delete(*, shop, payload, delivery) -> None:
    shopify_id = _payload_id(payload.get("id"))
    if shopify_id is None:
        raise DeliveryUnusable("customers/delete payload has no id")
    customer = incremental.customer_tombstone(
        shop=shop, shopify_id=shopify_id, deleted_at=_event_time(payload, delivery)
    )
    _record(shop, [customer.id], incremental.TOMBSTONE_CHANGED)
    _erase_if_redacted(shop, delivery, shopify_id)


@dataclass(frozen=True)
class MergeRead:
    kept: CustomerRead
    deleted_shopify_id: int


def prepare_customer_merge(*, shop, payload, delivery) -> MergeRead | None:
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
        return None
    return MergeRead(kept=_customer_read(shop, kept), deleted_shopify_id=deleted)


@webhook_handler("customers/merge", prepare=prepare_customer_merge)
def apply_customer_merge(*, shop, payload, delivery, prepared: MergeRead | None) -> None:
    if prepared is None:
        return
    survivor, gone = incremental.customer_merge_apply(
        shop=shop,
        # None: the survivor is gone again since; a later webhook or the delta brings it.
        kept_node=prepared.kept.node,
        kept_shopify_id=prepared.kept.shopify_id,
        deleted_shopify_id=prepared.deleted_shopify_id,
        merged_at=_event_time(payload, delivery),
    )
    # The survivor was re-read whole and took over the other's orders: anything may differ.
    _record(shop, [c.id for c in (survivor, gone) if c is not None], None)
    _erase_if_redacted(shop, delivery, prepared.kept.shopify_id, prepared.deleted_shopify_id)


# --- consent -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentChange:
    shopify_id: int
    channel: str
    state: str
    opt_in_level: str
    updated_at: datetime | None
    read: CustomerRead | None  # the customer from Shopify when the mirror did not hold it


def _prepare_consent(shop, shopify_id: int, channel: str, consent: dict) -> ConsentChange:
    known = Customer.all_shops.filter(shop=shop, shopify_id=shopify_id).exists()
    return ConsentChange(
        shopify_id=shopify_id,
        channel=channel,
        state=str(consent["state"]),
        opt_in_level=str(consent.get("opt_in_level") or ""),
        updated_at=parse_datetime(consent.get("consent_updated_at")),
        read=None if known else _customer_read(shop, shopify_id),
    )


def prepare_email_consent(*, shop, payload, delivery) -> ConsentChange:
    shopify_id = _payload_id(payload.get("customer_id"))
    consent = payload.get("email_marketing_consent") or {}
    if shopify_id is None or not consent.get("state"):
        raise DeliveryUnusable(
            "email consent payload needs customer_id and email_marketing_consent.state"
        )
    return _prepare_consent(shop, shopify_id, "email", consent)


def prepare_sms_consent(*, shop, payload, delivery) -> ConsentChange:
    shopify_id = _payload_id(payload.get("id") or payload.get("customer_id"))
    consent = payload.get("sms_marketing_consent") or {}
    if shopify_id is None or not consent.get("state"):
        raise DeliveryUnusable("SMS consent payload needs id and sms_marketing_consent.state")
    return _prepare_consent(shop, shopify_id, "sms", consent)


class CustomerNotMirroredYet(Exception):
    """The customer vanished between prepare and apply (a retry reads it from Shopify)."""


@webhook_handler("customers_email_marketing_consent/update", prepare=prepare_email_consent)
@webhook_handler("customers_marketing_consent/update", prepare=prepare_sms_consent)
def apply_consent(*, shop, payload, delivery, prepared: ConsentChange) -> None:
    if prepared.read is not None:
        _apply_read(shop, prepared.read)
        return
    customer_id = incremental.customer_consent_apply(
        shop=shop,
        shopify_id=prepared.shopify_id,
        channel=prepared.channel,
        state=prepared.state,
        opt_in_level=prepared.opt_in_level,
        updated_at=prepared.updated_at,
    )
    if customer_id is None:
        raise CustomerNotMirroredYet(f"customer {prepared.shopify_id} is not in the mirror")
    if customer_id:
        _record(shop, [customer_id], frozenset(incremental.CONSENT_COLUMNS[prepared.channel]))
    _erase_if_redacted(shop, delivery, prepared.shopify_id)


# --- orders ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderOwner:
    """An order's customer as the mirror held it at prepare time, re-read when needed."""

    shopify_id: int
    local_id: int | None  # None: not in the mirror yet
    read: CustomerRead | None  # Shopify's own totals changed too: the owner re-read

    @property
    def known_ids(self) -> dict[int, int]:
        return {self.shopify_id: self.local_id} if self.local_id else {}


@dataclass(frozen=True)
class OrderChange:
    row: dict[str, Any]  # mapped from the payload
    node_row: dict[str, Any] | None  # the order read back for its product tags, if needed
    owner: OrderOwner | None


def _owner(shop, customer_shopify_id: int | None) -> OrderOwner | None:
    """The owner's local id; re-read it when the mirror keeps Shopify's totals (or lacks it)."""
    if customer_shopify_id is None:
        return None
    held = (
        Customer.all_shops.filter(shop=shop, shopify_id=customer_shopify_id)
        .values_list("id", "aggregates_from_shopify")
        .first()
    )
    local_id, shopify_totals = held if held else (None, True)
    read = _customer_read(shop, customer_shopify_id) if shopify_totals else None
    return OrderOwner(shopify_id=customer_shopify_id, local_id=local_id, read=read)


def prepare_order_change(*, shop, payload, delivery) -> OrderChange:
    if _payload_id(payload.get("id")) is None:
        raise DeliveryUnusable("order payload has no id")
    try:
        row = incremental.order_from_payload(payload)
    except (KeyError, TypeError, ValueError) as exc:  # a malformed payload, not a passing fault
        raise DeliveryUnusable(f"order payload cannot be read: {exc}") from exc
    node_row = None
    if row["product_ids"] and "product_tags" not in row:
        node_row = _order_read(shop, row["shopify_id"])
    return OrderChange(
        row=row, node_row=node_row, owner=_owner(shop, row.get("customer_shopify_id"))
    )


def _order_read(shop, shopify_id: int) -> dict[str, Any] | None:
    """REST line items have no product tags: read the order through GraphQL for them."""
    from tenants.shopify import operations
    from tenants.shopify.errors import ShopifyNotFound

    try:
        node = operations.order_fetch(shop, f"gid://shopify/Order/{shopify_id}")
    except ShopifyNotFound:
        return None  # deleted meanwhile; its orders/delete webhook tombstones it
    return incremental.order_from_payload(node)


@webhook_handler("orders/create", prepare=prepare_order_change)
@webhook_handler("orders/updated", prepare=prepare_order_change)
@webhook_handler("orders/cancelled", prepare=prepare_order_change)
def apply_order_change(*, shop, payload, delivery, prepared: OrderChange) -> None:
    row, node_row, owner = prepared.row, prepared.node_row, prepared.owner
    known = owner.known_ids if owner else {}
    applied = []
    if node_row is None or _older(node_row, row):
        applied.append(incremental.orders_apply(shop=shop, rows=[row], owner_ids=known))
    if node_row is not None:  # the newer complete state, with product tags
        applied.append(incremental.orders_apply(shop=shop, rows=[node_row], owner_ids=known))
    touched = set().union(*(owners.changed for owners in applied))
    _apply_owner(shop, owner, touched, products_changed=any(o.products for o in applied))
    _erase_if_redacted(shop, delivery, row.get("customer_shopify_id"))


def _older(row: dict[str, Any], than: dict[str, Any]) -> bool:
    mine, theirs = row.get("updated_at_shopify"), than.get("updated_at_shopify")
    return mine is not None and theirs is not None and mine < theirs


def _apply_owner(
    shop, owner: OrderOwner | None, touched: set[int], *, products_changed: bool
) -> None:
    changed: frozenset[str] | None = ORDER_CHANGED | (
        {ORDER_PRODUCTS_CHANGED} if products_changed else set()
    )
    if owner is not None and owner.read is not None:
        read = owner.read
        ids, owner_changed = incremental.customer_apply_read(
            shop=shop, shopify_id=read.shopify_id, node=read.node, read_at=read.read_at
        )
        touched |= set(ids)
        changed = None if owner_changed is None else changed | owner_changed
    _record(shop, sorted(touched), changed)


def prepare_order_delete(*, shop, payload, delivery) -> OrderOwner | None:
    shopify_id = _payload_id(payload.get("id"))
    if shopify_id is None:
        raise DeliveryUnusable("orders/delete payload has no id")
    owner = (
        Order.all_shops.filter(shop=shop, shopify_id=shopify_id)
        .values_list("customer_shopify_id", flat=True)
        .first()
    )
    return _owner(shop, owner)


@webhook_handler("orders/delete", prepare=prepare_order_delete)
def apply_order_delete(*, shop, payload, delivery, prepared: OrderOwner | None) -> None:
    order, products_lost = incremental.order_tombstone(
        shop=shop,
        shopify_id=_payload_id(payload.get("id")),
        deleted_at=_event_time(payload, delivery),
    )
    touched = {order.customer_id} if order.customer_id else set()
    _apply_owner(shop, prepared, touched, products_changed=products_lost)
    _erase_if_redacted(shop, delivery, prepared.shopify_id if prepared else None)
