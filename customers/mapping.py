"""Shopify shapes -> mirror rows (plain dicts keyed by column name).

Two input shapes: GraphQL (bulk JSONL lines, `customer(id:)` reads) and REST (webhook payloads,
snake_case, numeric ids). Both produce the same columns, so every write path shares one upsert.
Fields a shape does not carry are simply absent from the row; callers decide what that means.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from customers.normalize import (
    email_normalize,
    name_key,
    phone_normalize,
    postcode_normalize,
    tags_normalize,
)

CUSTOMER_STATES = {"DISABLED", "INVITED", "ENABLED", "DECLINED"}


def gid_id(gid: str | int | None) -> int | None:
    """The numeric id of `gid://shopify/Customer/123` (or of a bare id)."""
    if gid is None or gid == "":
        return None
    if isinstance(gid, int):
        return gid
    return int(str(gid).rsplit("/", 1)[-1].split("?", 1)[0])


def gid_type(gid: str) -> str:
    """'Customer' for gid://shopify/Customer/1."""
    return gid.split("/", 4)[3] if gid.startswith("gid://") else ""


def customer_gid(shopify_id: int) -> str:
    return f"gid://shopify/Customer/{shopify_id}"


def parse_datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def parse_decimal(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation as error:
        raise ValueError(f"not a decimal amount: {value!r}") from error


def _s(value: Any) -> str:
    return "" if value is None else str(value)


# --- addresses ---------------------------------------------------------------------------------


def address_from_graphql(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "shopify_id": gid_id(node.get("id")),
        "first_name": _s(node.get("firstName")),
        "last_name": _s(node.get("lastName")),
        "company": _s(node.get("company")),
        "address1": _s(node.get("address1")),
        "address2": _s(node.get("address2")),
        "city": _s(node.get("city")),
        "province_code": _s(node.get("provinceCode")),
        "country_code": _s(node.get("countryCodeV2") or node.get("countryCode")),
        "zip": _s(node.get("zip")),
        "phone": _s(node.get("phone")),
    }


def address_from_rest(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "shopify_id": gid_id(node.get("id")),
        "first_name": _s(node.get("first_name")),
        "last_name": _s(node.get("last_name")),
        "company": _s(node.get("company")),
        "address1": _s(node.get("address1")),
        "address2": _s(node.get("address2")),
        "city": _s(node.get("city")),
        "province_code": _s(node.get("province_code")),
        "country_code": _s(node.get("country_code")),
        "zip": _s(node.get("zip")),
        "phone": _s(node.get("phone")),
    }


# --- customers ---------------------------------------------------------------------------------


def _with_derived(
    row: dict[str, Any], addresses: list[dict], default_id: int | None, shop_country: str
) -> dict[str, Any]:
    """Default address columns and the matching keys, computed from the mapped raw fields."""
    default = next((a for a in addresses if a["shopify_id"] == default_id), None)
    if default is None and addresses and default_id is None:
        default = addresses[0]
    for address in addresses:
        address["is_default"] = address is default
    if default is not None:
        row["default_address_city"] = default["city"]
        row["default_address_province_code"] = default["province_code"]
        row["default_address_country_code"] = default["country_code"]
        row["default_address_zip"] = default["zip"]
    else:
        row.update(
            default_address_city="",
            default_address_province_code="",
            default_address_country_code="",
            default_address_zip="",
        )
    return _keys_only(row, shop_country)


def customer_from_graphql(
    node: dict[str, Any], *, addresses: list[dict] | None = None, shop_country: str = ""
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(customer row, address rows) from a GraphQL Customer (bulk line or `customer(id:)`).

    `addresses` are the mapped child lines of a bulk export; otherwise the inline `addresses`
    list of the node is used.
    """
    if addresses is None:
        addresses = [address_from_graphql(a) for a in node.get("addresses") or ()]
    email = node.get("defaultEmailAddress") or {}
    phone = node.get("defaultPhoneNumber") or {}
    email_consent = node.get("emailMarketingConsent") or {}
    sms_consent = node.get("smsMarketingConsent") or {}
    spent = node.get("amountSpent")
    orders = node.get("numberOfOrders")
    mergeable = node.get("mergeable")
    statistics = node.get("statistics") or {}
    tags = list(node.get("tags") or ())
    state = node.get("state") or "DISABLED"
    if state not in CUSTOMER_STATES:
        raise ValueError(f"unknown customer state {state!r}")
    gid = node["id"]
    row = {
        "shopify_id": gid_id(gid),
        "gid": gid,
        "first_name": _s(node.get("firstName")),
        "last_name": _s(node.get("lastName")),
        "email": _s(email.get("emailAddress") or node.get("email")),
        "phone": _s(phone.get("phoneNumber") or node.get("phone")),
        "state": state,
        "tags": tags,
        "tags_normalized": tags_normalize(tags),
        "note": _s(node.get("note")),
        "verified_email": bool(node.get("verifiedEmail")),
        "tax_exempt": bool(node.get("taxExempt")),
        "locale": _s(node.get("locale")),
        "aggregates_from_shopify": orders is not None and spent is not None,
        "number_of_orders": int(orders) if orders is not None else 0,
        "amount_spent": parse_decimal(spent["amount"]) if spent else Decimal(0),
        "amount_spent_currency": _s(spent.get("currencyCode")) if spent else "",
        "last_abandoned_checkout_at": parse_datetime(node.get("lastAbandonedCheckoutAt")),
        "created_at_shopify": parse_datetime(node.get("createdAt")),
        "updated_at_shopify": parse_datetime(node.get("updatedAt")),
        "email_marketing_state": _s(
            email.get("marketingState") or email_consent.get("marketingState")
        ),
        "email_marketing_opt_in_level": _s(
            email.get("marketingOptInLevel") or email_consent.get("marketingOptInLevel")
        ),
        "email_marketing_updated_at": parse_datetime(
            email.get("marketingUpdatedAt") or email_consent.get("consentUpdatedAt")
        ),
        "sms_marketing_state": _s(phone.get("marketingState") or sms_consent.get("marketingState")),
        "sms_marketing_opt_in_level": _s(
            phone.get("marketingOptInLevel") or sms_consent.get("marketingOptInLevel")
        ),
        "sms_marketing_updated_at": parse_datetime(
            phone.get("marketingUpdatedAt") or sms_consent.get("consentUpdatedAt")
        ),
        "predicted_spend_tier": _s(statistics.get("predictedSpendTier")),
        "is_mergeable": mergeable.get("isMergeable") if mergeable else None,
        "merge_blockers": list(mergeable.get("errorFields") or ()) if mergeable else [],
    }
    default = node.get("defaultAddress") or {}
    default_id = gid_id(default.get("id"))
    if default and default_id is None and not addresses:
        # An inline default address without id (a trimmed bulk query): use it as is.
        addresses = []
        row.update(
            default_address_city=_s(default.get("city")),
            default_address_province_code=_s(default.get("provinceCode")),
            default_address_country_code=_s(default.get("countryCodeV2")),
            default_address_zip=_s(default.get("zip")),
        )
        return _keys_only(row, shop_country), addresses
    return _with_derived(row, addresses, default_id, shop_country), addresses


def _keys_only(row: dict[str, Any], shop_country: str) -> dict[str, Any]:
    region = row["default_address_country_code"] or shop_country
    row["email_normalized"] = email_normalize(row["email"])
    row["phone_e164"] = phone_normalize(row["phone"], region=region)
    row["first_name_key"] = name_key(row["first_name"])
    row["last_name_key"] = name_key(row["last_name"])
    row["postcode_normalized"] = postcode_normalize(
        row["default_address_zip"], country_code=row["default_address_country_code"]
    )
    return row


# --- orders --------------------------------------------------------------------------------------


def _money(node: dict[str, Any]) -> tuple[Decimal, str]:
    for key in ("currentTotalPriceSet", "totalPriceSet"):
        money = (node.get(key) or {}).get("shopMoney")
        if money:
            return parse_decimal(money.get("amount")), _s(money.get("currencyCode"))
    return parse_decimal(node.get("totalPrice")), _s(node.get("currencyCode"))


def order_from_graphql(
    node: dict[str, Any], *, line_items: list[dict] | None = None
) -> dict[str, Any]:
    """Order row from a GraphQL Order; `line_items` are bulk child lines, else the inline list."""
    if line_items is None:
        inline = node.get("lineItems") or []
        if isinstance(inline, dict):  # a connection read through `customer(id:)`/`order(id:)`
            inline = inline.get("nodes") or [e["node"] for e in inline.get("edges") or ()]
        line_items = inline
    total, currency = _money(node)
    customer = node.get("customer") or {}
    product_ids, product_tags = reduce_line_items_graphql(line_items)
    return {
        "shopify_id": gid_id(node["id"]),
        "customer_shopify_id": gid_id(customer.get("id")),
        "name": _s(node.get("name")),
        "created_at_shopify": parse_datetime(node.get("createdAt")),
        "processed_at": parse_datetime(node.get("processedAt") or node.get("createdAt")),
        "updated_at_shopify": parse_datetime(node.get("updatedAt") or node.get("createdAt")),
        "total_price": total,
        "currency": currency,
        "financial_status": _s(node.get("displayFinancialStatus")),
        "cancelled_at": parse_datetime(node.get("cancelledAt")),
        "is_test": bool(node.get("test")),
        "product_ids": product_ids,
        "product_tags": product_tags,
        "product_tags_normalized": tags_normalize(product_tags),
    }


def reduce_line_items_graphql(line_items: list[dict]) -> tuple[list[int], list[str]]:
    ids: dict[int, None] = {}
    tags: dict[str, None] = {}
    for item in line_items:
        product = item.get("product") or {}
        product_id = gid_id(product.get("id") or item.get("productId"))
        if product_id is not None:
            ids[product_id] = None
        for tag in product.get("tags") or item.get("productTags") or ():
            tags[tag] = None
    return sorted(ids), sorted(tags)


def order_from_rest(payload: dict[str, Any]) -> dict[str, Any]:
    """Order row from an orders/* webhook. REST line items carry no product tags."""
    customer = payload.get("customer") or {}
    product_ids = sorted(
        {
            int(item["product_id"])
            for item in payload.get("line_items") or ()
            if item.get("product_id")
        }
    )
    created = parse_datetime(payload.get("created_at"))
    return {
        "shopify_id": int(payload["id"]),
        "customer_shopify_id": gid_id(customer.get("id")),
        "name": _s(payload.get("name")),
        "created_at_shopify": created,
        "processed_at": parse_datetime(payload.get("processed_at")) or created,
        "updated_at_shopify": parse_datetime(payload.get("updated_at")) or created,
        "total_price": parse_decimal(
            payload.get("current_total_price") or payload.get("total_price")
        ),
        "currency": _s(payload.get("currency")),
        "financial_status": _s(payload.get("financial_status")).upper(),
        "cancelled_at": parse_datetime(payload.get("cancelled_at")),
        "is_test": bool(payload.get("test")),
        "product_ids": product_ids,
    }
