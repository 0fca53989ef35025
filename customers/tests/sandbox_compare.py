"""Test helpers: a Shop row pointing at a sandbox store, and a field-by-field comparison of the
mirror with the sandbox store's own records (not with anything read through our code)."""

from datetime import UTC, datetime
from decimal import Decimal

from customers.models import Customer, CustomerAddress, Order
from tenants.tests.factories import agency_factory, shop_factory


def shop_for(sandbox_store, *, agency=None, **extra):
    return shop_factory(
        agency=agency or agency_factory(),
        domain=sandbox_store.domain,
        token=sandbox_store.token,
        api_base_url=sandbox_store.base_url,
        **extra,
    )


def _at(ms):
    """Sandbox epoch ms -> the second-precision datetime Shopify serves."""
    return None if ms is None else datetime.fromtimestamp(ms // 1000, UTC)


def _s(value):
    return "" if value is None else value


def _second(value):
    return None if value is None else value.replace(microsecond=0)


def _minor(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def expected_customer(c) -> dict:
    from sandbox.merge import hard_blockers
    from sandbox.resolvers.customers import predicted_spend_tier

    default = c.default_address()
    blockers = [blocker.error_field for blocker in hard_blockers(c)]
    counted = c.counted_orders()
    processed = [o.processed_at or o.created_at for o in counted]
    return {
        "first_name": _s(c.first_name),
        "last_name": _s(c.last_name),
        "email": _s(c.email),
        "phone": _s(c.phone),
        "state": c.state,
        "tags": list(c.tags),
        "note": _s(c.note),
        "verified_email": bool(c.verified_email),
        "tax_exempt": bool(c.tax_exempt),
        "locale": _s(c.locale),
        "number_of_orders": c.number_of_orders(),
        "amount_spent_minor": c.amount_spent_minor(),
        "created_at_shopify": _at(c.created_at),
        "updated_at_shopify": _at(c.updated_at),
        "email_marketing_state": _s(c.email_marketing_state) if c.email else "",
        "sms_marketing_state": _s(c.sms_marketing_state) if c.phone else "",
        "default_address_city": _s(default.city) if default else "",
        "default_address_province_code": _s(default.province_code) if default else "",
        "default_address_country_code": _s(default.country_code) if default else "",
        "default_address_zip": _s(default.zip) if default else "",
        "first_order_at": _at(min(processed)) if processed else None,
        "last_order_at": _at(max(processed)) if processed else None,
        "predicted_spend_tier": predicted_spend_tier(c),
        "is_mergeable": not blockers,
        "merge_blockers": blockers,
        "addresses": sorted(
            (
                a.id,
                _s(a.address1),
                _s(a.city),
                _s(a.zip),
                _s(a.country_code),
                a.id == (default.id if default else None),
            )
            for a in c.addresses
        ),
        "deleted": False,
    }


def mirrored_customer(m: Customer) -> dict:
    return {
        "first_name": m.first_name,
        "last_name": m.last_name,
        "email": m.email,
        "phone": m.phone,
        "state": m.state,
        "tags": list(m.tags),
        "note": m.note,
        "verified_email": m.verified_email,
        "tax_exempt": m.tax_exempt,
        "locale": m.locale,
        "number_of_orders": m.number_of_orders,
        "amount_spent_minor": _minor(m.amount_spent),
        "created_at_shopify": _second(m.created_at_shopify),
        "updated_at_shopify": _second(m.updated_at_shopify),
        "email_marketing_state": m.email_marketing_state,
        "sms_marketing_state": m.sms_marketing_state,
        "default_address_city": m.default_address_city,
        "default_address_province_code": m.default_address_province_code,
        "default_address_country_code": m.default_address_country_code,
        "default_address_zip": m.default_address_zip,
        "first_order_at": _second(m.first_order_at),
        "last_order_at": _second(m.last_order_at),
        "predicted_spend_tier": m.predicted_spend_tier,
        "is_mergeable": m.is_mergeable,
        "merge_blockers": m.merge_blockers,
        "addresses": sorted(
            (a.shopify_id, a.address1, a.city, a.zip, a.country_code, a.is_default)
            for a in CustomerAddress.all_shops.filter(customer=m)
        ),
        "deleted": m.deleted_at is not None,
    }


def expected_order(o) -> dict:
    return {
        "customer": o.customer_id,
        "total_minor": o.total_minor,
        "currency": o.currency,
        "cancelled": o.cancelled_at is not None,
        "test": bool(o.test),
        "product_ids": sorted({i.product_id for i in o.line_items if i.product_id}),
        "product_tags": sorted({t for i in o.line_items for t in (i.product_tags or ())}),
        "deleted": False,
    }


def mirrored_order(m: Order) -> dict:
    return {
        "customer": m.customer_shopify_id,
        "total_minor": _minor(m.total_price),
        "currency": m.currency,
        "cancelled": m.cancelled_at is not None,
        "test": m.is_test,
        "product_ids": list(m.product_ids),
        "product_tags": list(m.product_tags),
        "deleted": m.deleted_at is not None,
    }


# Read by the full sync's bulk query only (webhook payloads and deltas do not carry them).
FULL_SYNC_ONLY = {"predicted_spend_tier", "is_mergeable", "merge_blockers"}


def mirror_differences(shop, store, *, full_sync_fields: bool = False) -> list[str]:
    """Every field where the mirror differs from the sandbox store (empty list = identical).

    `full_sync_fields` also compares what only a full sync reads (FULL_SYNC_ONLY)."""
    problems = []
    mirror = {m.shopify_id: m for m in Customer.all_shops.filter(shop=shop)}
    for customer_id, customer in store.customers.items():
        if customer_id not in mirror:
            problems.append(f"customer {customer_id} missing from the mirror")
            continue
        want, got = expected_customer(customer), mirrored_customer(mirror[customer_id])
        problems += [
            f"customer {customer_id} {key}: sandbox {want[key]!r} != mirror {got[key]!r}"
            for key in want
            if want[key] != got[key] and (full_sync_fields or key not in FULL_SYNC_ONLY)
        ]
    for shopify_id, m in mirror.items():
        if shopify_id not in store.customers and m.deleted_at is None:
            problems.append(f"customer {shopify_id} is gone from the sandbox but not tombstoned")
    orders = {m.shopify_id: m for m in Order.all_shops.filter(shop=shop)}
    for order_id, order in store.orders.items():
        if order_id not in orders:
            problems.append(f"order {order_id} missing from the mirror")
            continue
        want, got = expected_order(order), mirrored_order(orders[order_id])
        problems += [
            f"order {order_id} {key}: sandbox {want[key]!r} != mirror {got[key]!r}"
            for key in want
            if want[key] != got[key]
        ]
    for order_id, m in orders.items():
        if order_id not in store.orders and m.deleted_at is None:
            problems.append(f"order {order_id} is gone from the sandbox but not tombstoned")
    return problems
