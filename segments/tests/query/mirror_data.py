"""One description of a customer, written both into the mirror tables and as evaluator facts.

`facts_of` states, independently of the SQL compiler, how each attribute is read from the
mirror (union of addresses, city keys, cancelled orders ignored, Shopify's spend tier first):
the property test checks the compiler against it.
"""

import itertools
from decimal import Decimal

from django.utils import timezone

from customers.models import Customer, CustomerAddress, Order
from customers.normalize import tags_normalize
from merges.models import DuplicateCandidate
from segments.models import CustomerScore
from segments.query.compile import city_key

_ids = itertools.count(10_000)


def _customer_fields(spec: dict) -> dict:
    default = spec.get("default_address") or {}
    return {
        "email": spec.get("email", ""),
        "state": spec.get("state", "DISABLED"),
        "tags": spec.get("tags", []),
        "tags_normalized": tags_normalize(spec.get("tags", [])),
        "locale": spec.get("locale", ""),
        "number_of_orders": spec.get("number_of_orders", 0),
        "amount_spent": spec.get("amount_spent", Decimal(0)),
        "first_order_at": spec.get("first_order_at"),
        "last_order_at": spec.get("last_order_at"),
        "last_abandoned_checkout_at": spec.get("abandoned_at"),
        "created_at_shopify": spec.get("created_at"),
        "email_marketing_state": spec.get("email_marketing_state", ""),
        "sms_marketing_state": spec.get("sms_marketing_state", ""),
        "default_address_city": default.get("city", ""),
        "default_address_province_code": default.get("province_code", ""),
        "default_address_country_code": default.get("country_code", ""),
        "predicted_spend_tier": spec.get("predicted_spend_tier", ""),
    }


def _insert_related(shop, customer: Customer, spec: dict) -> None:
    for address in spec.get("addresses", []):
        CustomerAddress.all_shops.create(
            shop=shop, customer=customer, shopify_id=next(_ids), **address
        )
    for order in spec.get("orders", []):
        Order.all_shops.create(
            shop=shop,
            customer=customer,
            shopify_id=next(_ids),
            processed_at=order["processed_at"],
            total_price=order["total_price"],
            product_ids=order["product_ids"],
            product_tags=order["product_tags"],
            product_tags_normalized=tags_normalize(order["product_tags"]),
            cancelled_at=timezone.now() if order.get("cancelled") else None,
        )
    for status in spec.get("duplicate_candidates", []):
        # The other member is an id no customer has, so each customer's status is its own.
        DuplicateCandidate.all_shops.create(
            shop=shop,
            members=sorted([customer.pk, 10**12 + next(_ids)]),
            probability=0.9,
            tier="high",
            status=status,
            detector_version="test",
            detected_at=timezone.now(),
        )
    score = spec.get("score")
    if score:
        CustomerScore.all_shops.create(
            shop=shop, customer=customer, computed_at=timezone.now(), **score
        )


def insert_customer(shop, spec: dict) -> Customer:
    shopify_id = spec.get("shopify_id") or next(_ids)
    customer = Customer.all_shops.create(
        shop=shop,
        shopify_id=shopify_id,
        gid=f"gid://shopify/Customer/{shopify_id}",
        **_customer_fields(spec),
    )
    _insert_related(shop, customer, spec)
    return customer


def rewrite_customer(customer: Customer, spec: dict) -> None:
    """Make an existing customer (same id) look like `spec`: fields, addresses, orders, score."""
    Customer.all_shops.filter(pk=customer.pk).update(**_customer_fields(spec))
    for model in (CustomerAddress, Order, CustomerScore):
        model.all_shops.filter(customer=customer).delete()
    candidates = DuplicateCandidate.all_shops.filter(shop_id=customer.shop_id)
    candidates.filter(pk__in=[c.pk for c in candidates if customer.pk in c.members]).delete()
    _insert_related(customer.shop, customer, spec)


def duplicate_status_of(candidate_statuses, *, merged_away: bool = False) -> str:
    """The documented rule (docs/segment-language.md), written out plainly."""
    statuses = set(candidate_statuses)
    if merged_away:
        return "MERGED"
    if "merge_requested" in statuses:
        return "MERGE_REQUESTED"
    if "open" in statuses:
        return "OPEN"
    if "merged" in statuses:
        return "MERGED"
    if "dismissed" in statuses:
        return "DISMISSED"
    return "NONE"


def facts_of(shop, spec: dict) -> dict:
    addresses = [spec.get("default_address") or {}, *spec.get("addresses", [])]

    def filled(address, *parts):
        return all(address.get(part) for part in parts)

    email = spec.get("email", "")
    score = spec.get("score") or {}
    return {
        "shop": shop.domain,
        "amount_spent": spec.get("amount_spent", Decimal(0)),
        "number_of_orders": spec.get("number_of_orders", 0),
        "customer_tags": spec.get("tags", []),
        "customer_email_domain": email.rpartition("@")[2] if "@" in email else None,
        "customer_account_status": spec.get("state", "DISABLED"),
        "customer_language": spec.get("locale") or None,
        "email_subscription_status": spec.get("email_marketing_state") or None,
        "sms_subscription_status": spec.get("sms_marketing_state") or None,
        "customer_countries": [a["country_code"] for a in addresses if filled(a, "country_code")],
        "customer_regions": [
            f"{a['country_code']}-{a['province_code']}"
            for a in addresses
            if filled(a, "country_code", "province_code")
        ],
        "customer_cities": [
            f"{a['country_code']}-{a.get('province_code', '')}-{city_key(a['city'])}"
            for a in addresses
            if filled(a, "country_code", "city")
        ],
        "customer_added_date": spec.get("created_at"),
        "first_order_date": spec.get("first_order_at"),
        "last_order_date": spec.get("last_order_at"),
        "abandoned_checkout_date": spec.get("abandoned_at"),
        "predicted_spend_tier": spec.get("predicted_spend_tier")
        or score.get("predicted_spend_tier")
        or None,
        "rfm_group": score.get("rfm_group"),
        "duplicate_status": duplicate_status_of(spec.get("duplicate_candidates", [])),
        "orders": [
            {
                "date": order["processed_at"],
                "amount": order["total_price"],
                "product_ids": order["product_ids"],
                "product_tags": order["product_tags"],
            }
            for order in spec.get("orders", [])
            if not order.get("cancelled")
        ],
    }
