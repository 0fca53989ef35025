"""Which mirror changes can move which segments and group sets.

The mirror's hook says what changed (`changed`: Customer field names, plus "orders" when orders
changed; None = anything). Each segment attribute reads the fields below; a segment or group
set whose attributes read none of the changed fields cannot have moved, so it is not refreshed.
"""

from __future__ import annotations

from collections.abc import Iterable

from customers.hooks import DUPLICATES_CHANGED
from segments.query import ast
from segments.query.serialise import from_dict

ORDERS = "orders"
ADDRESSES = "addresses"
# Not mirror fields: set by segments itself when scores were recomputed or groups moved.
SCORES = "segments:scores"
GROUPS = "segments:groups"

# Every segment holds live customers only, so these move every segment.
LIVENESS = frozenset({"deleted_at", "merged_into", "merged_into_id"})

_PLACE = frozenset({"default_address_country_code", ADDRESSES})
READS: dict[str, frozenset[str]] = {
    "amount_spent": frozenset({"amount_spent"}),
    "number_of_orders": frozenset({"number_of_orders"}),
    "first_order_date": frozenset({"first_order_at"}),
    "last_order_date": frozenset({"last_order_at"}),
    "abandoned_checkout_date": frozenset({"last_abandoned_checkout_at"}),
    "customer_added_date": frozenset({"created_at_shopify"}),
    "customer_tags": frozenset({"tags", "tags_normalized"}),
    "customer_email_domain": frozenset({"email"}),
    "customer_account_status": frozenset({"state"}),
    "customer_language": frozenset({"locale"}),
    "email_subscription_status": frozenset({"email_marketing_state"}),
    "sms_subscription_status": frozenset({"sms_marketing_state"}),
    "customer_countries": _PLACE,
    "customer_regions": _PLACE | {"default_address_province_code"},
    "customer_cities": _PLACE | {"default_address_city"},
    "predicted_spend_tier": frozenset({"predicted_spend_tier", SCORES}),
    "rfm_group": frozenset({SCORES}),
    "products_purchased": frozenset({ORDERS}),
    "orders_placed": frozenset({ORDERS}),
    "shop": frozenset(),  # a customer never changes shop
    "duplicate_status": frozenset({"merged_into", "merged_into_id", DUPLICATES_CHANGED}),
    "group": frozenset({GROUPS}),
}


def could_change(attributes: Iterable[str], changed: frozenset[str] | None) -> bool:
    """Whether a definition reading `attributes` can have moved. Unknown attributes (one added
    to the registry but not here) count as read by every change: refresh rather than miss."""
    if changed is None or changed & LIVENESS:
        return True
    return any(READS.get(name, changed) & changed for name in attributes)


def query_attributes(parsed: dict) -> frozenset[str]:
    """The attributes a stored (`parsed`) query reads."""
    names = set()
    for clause in ast.clauses(from_dict(parsed)):
        names.add(
            clause.function if isinstance(clause, ast.FunctionCondition) else clause.attribute
        )
    return frozenset(names)
