"""Bulk-export nodes -> PostgreSQL COPY text lines for the full sync's staging tables.

The same mapping as customers.mapping (customer_from_graphql, address_from_graphql,
order_from_graphql), written for speed: values go out as the strings Shopify sent (timestamps,
amounts) and PostgreSQL's COPY parses them into typed columns, instead of Python building
datetime/Decimal objects only to format them again. That halves the Python CPU of a full sync.
customers/tests/test_bulkrows.py loads both mappings into staging tables and requires identical
rows, so a change to customers.mapping that is not mirrored here fails the tests.
"""

import re
from functools import lru_cache
from typing import Any

import orjson

from customers.mapping import CUSTOMER_STATES
from customers.normalize import (
    email_normalize,
    name_key,
    phone_normalize,
    postcode_normalize,
    tags_normalize,
)

NULL = "\\N"
CUSTOMER_COLUMNS = [
    "shopify_id", "gid", "first_name", "last_name", "email", "phone", "state", "tags",
    "tags_normalized", "note", "verified_email", "tax_exempt", "locale",
    "aggregates_from_shopify", "number_of_orders", "amount_spent", "amount_spent_currency",
    "last_abandoned_checkout_at", "created_at_shopify", "updated_at_shopify",
    "email_marketing_state", "email_marketing_opt_in_level", "email_marketing_updated_at",
    "sms_marketing_state", "sms_marketing_opt_in_level", "sms_marketing_updated_at",
    "predicted_spend_tier", "is_mergeable", "merge_blockers", "default_address_city",
    "default_address_province_code", "default_address_country_code", "default_address_zip",
    "email_normalized", "phone_e164", "first_name_key", "last_name_key", "postcode_normalized",
]  # fmt: skip
ADDRESS_COLUMNS = [
    "customer_shopify_id", "shopify_id", "is_default", "first_name", "last_name", "company",
    "address1", "address2", "city", "province_code", "country_code", "zip", "phone",
]  # fmt: skip
ORDER_COLUMNS = [
    "shopify_id", "customer_shopify_id", "name", "created_at_shopify", "processed_at",
    "updated_at_shopify", "total_price", "currency", "financial_status", "cancelled_at",
    "is_test", "product_ids", "product_tags", "product_tags_normalized",
]  # fmt: skip
_SPECIAL = ("\\", "\t", "\n", "\r")
# JSON spellings of the characters COPY text must escape (backslash, tab, newline, carriage
# return, also as `\u0009`, `\u000a`, `\u000d`, `\u005c`); `\u00e9` and the like decode to characters
# COPY takes as they are.
_JSON_SPECIAL = re.compile(rb"\\(?:[\\tnr]|u00(?:0|5[cC]))").search
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _s(value: Any) -> str:
    """mapping._s, escaped for COPY text."""
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    for special in _SPECIAL:
        if special in text:
            return text.translate(_ESCAPES)
    return text


_escaped = _s


def _plain(value: Any) -> str:
    """mapping._s for a node whose JSON line holds no backslash: JSON must escape a backslash,
    tab, newline or carriage return inside a string, so none of its values needs COPY escaping."""
    if value is None:
        return ""
    return value if type(value) is str else _s(value)


def copy_clean(raw: bytes | str) -> bool:
    """True when no string in this JSON line holds a character COPY text must escape: JSON
    spells every backslash, tab, newline and carriage return inside a string as an escape, so a
    line without those escapes needs no COPY escaping (bulkrows' fast path)."""
    return _JSON_SPECIAL(raw if type(raw) is bytes else raw.encode()) is None


def _raw(value: Any, s=_s) -> str:
    """A value PostgreSQL parses (timestamp, amount) as sent, or NULL when empty."""
    return s(value) if value else NULL


def _json(value: Any, s=_s) -> str:
    return s(orjson.dumps(value).decode())


def _bool(value: Any) -> str:
    return "t" if value else "f"


def _id(gid: Any) -> str:
    """mapping.gid_id as text ("\\N" for none)."""
    if gid is None or gid == "":
        return NULL
    if type(gid) is str:
        tail = gid[gid.rfind("/") + 1 :]
        if tail.isascii() and tail.isdigit() and tail[0] != "0":
            return tail  # what int() would give back, without the round trip
    elif isinstance(gid, int):
        return str(gid)
    return str(int(str(gid).rsplit("/", 1)[-1].split("?", 1)[0]))


def _amount(value: Any, s=_s) -> str:
    return "0" if value in (None, "") else s(value)


def address_values(node: dict[str, Any], _s=None) -> list[Any]:
    """address_from_graphql as [shopify_id, raw fields...] (is_default decided by the caller)."""
    _s = _s or _escaped
    g = node.get
    return [
        _id(g("id")),
        _s(g("firstName")),
        _s(g("lastName")),
        _s(g("company")),
        _s(g("address1")),
        _s(g("address2")),
        _s(g("city")),
        _s(g("provinceCode")),
        _s(g("countryCodeV2") or g("countryCode")),
        _s(g("zip")),
        _s(g("phone")),
    ]


def customer_lines(
    node: dict[str, Any],
    addresses: list[dict[str, Any]] | None,
    shop_country: str,
    prefix: str,
    *,
    clean: bool = False,
) -> tuple[str, list[str]]:
    """(customer COPY line, address COPY lines), each starting with `prefix`;
    `addresses` None = the node's inline list; `clean`: no backslash in the node's JSON lines."""
    _s = _plain if clean else _escaped
    g = node.get
    if addresses is None:
        addresses = g("addresses") or []
    email = g("defaultEmailAddress") or {}
    phone = g("defaultPhoneNumber") or {}
    email_consent = g("emailMarketingConsent") or {}
    sms_consent = g("smsMarketingConsent") or {}
    spent = g("amountSpent")
    orders = g("numberOfOrders")
    mergeable = g("mergeable")
    statistics = g("statistics") or {}
    tags = list(g("tags") or ())
    state = g("state") or "DISABLED"
    if state not in CUSTOMER_STATES:
        raise ValueError(f"unknown customer state {state!r}")
    gid = node["id"]
    customer_id = _id(gid)
    first_name = "" if g("firstName") is None else str(g("firstName"))
    last_name = "" if g("lastName") is None else str(g("lastName"))
    email_raw = email.get("emailAddress") or g("email")
    email_raw = "" if email_raw is None else str(email_raw)
    phone_raw = phone.get("phoneNumber") or g("phone")
    phone_raw = "" if phone_raw is None else str(phone_raw)

    default = g("defaultAddress") or {}
    default_id = _id(default.get("id"))
    rows = [address_values(a, _s) for a in addresses]
    address_lines = []
    if default and default_id == NULL and not rows:  # an inline default address without id
        city, province, country, zip_code = (
            _s(default.get("city")),
            _s(default.get("provinceCode")),
            _s(default.get("countryCodeV2")),
            _s(default.get("zip")),
        )
    else:
        chosen = next((r for r in rows if r[0] == default_id), None)
        if chosen is None and rows and default_id == NULL:
            chosen = rows[0]
        for row in rows:
            address_lines.append(
                prefix + "\t".join([customer_id, row[0], _bool(row is chosen), *row[1:]]) + "\n"
            )
        city, province, country, zip_code = (
            (chosen[6], chosen[7], chosen[8], chosen[9]) if chosen else ("", "", "", "")
        )
    values = [
        customer_id,
        _s(gid),
        _s(first_name),
        _s(last_name),
        _s(email_raw),
        _s(phone_raw),
        state,
        _json(tags, _s),
        _s(_tags_text(tuple(tags))),
        _s(g("note")),
        _bool(g("verifiedEmail")),
        _bool(g("taxExempt")),
        _s(g("locale")),
        _bool(orders is not None and spent is not None),
        str(int(orders)) if orders is not None else "0",
        _amount(spent["amount"], _s) if spent else "0",
        _s(spent.get("currencyCode")) if spent else "",
        _raw(g("lastAbandonedCheckoutAt"), _s),
        _raw(g("createdAt"), _s),
        _raw(g("updatedAt"), _s),
        _s(email.get("marketingState") or email_consent.get("marketingState")),
        _s(email.get("marketingOptInLevel") or email_consent.get("marketingOptInLevel")),
        _raw(email.get("marketingUpdatedAt") or email_consent.get("consentUpdatedAt"), _s),
        _s(phone.get("marketingState") or sms_consent.get("marketingState")),
        _s(phone.get("marketingOptInLevel") or sms_consent.get("marketingOptInLevel")),
        _raw(phone.get("marketingUpdatedAt") or sms_consent.get("consentUpdatedAt"), _s),
        _s(statistics.get("predictedSpendTier")),
        _nullable_bool(mergeable.get("isMergeable")) if mergeable else NULL,
        _json(list(mergeable.get("errorFields") or ()), _s) if mergeable else "[]",
        city,
        province,
        country,
        zip_code,
        _s(email_normalize(email_raw)),
        _s(phone_normalize(phone_raw, region=_unescaped(country) or shop_country)),
        _s(name_key(first_name)),
        _s(name_key(last_name)),
        _s(postcode_normalize(_unescaped(zip_code), country_code=_unescaped(country))),
    ]
    return prefix + "\t".join(values) + "\n", address_lines


@lru_cache(maxsize=1 << 14)  # tag sets repeat across customers and orders
def _tags_text(tags: tuple[str, ...]) -> str:
    return tags_normalize(list(tags))


def _nullable_bool(value: Any) -> str:
    if value is None:
        return NULL
    return _bool(value)


def _unescaped(text: str) -> str:
    if "\\" not in text:
        return text
    return (
        text.replace("\\\\", "\0").replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r")
    ).replace("\0", "\\")


def order_line(
    node: dict[str, Any],
    line_items: list[dict[str, Any]] | None,
    prefix: str,
    *,
    clean: bool = False,
) -> str:
    """order_from_graphql as a COPY line after `prefix`; `line_items` None = the inline list;
    `clean`: no backslash in the JSON lines of the order and its items."""
    _s = _plain if clean else _escaped
    g = node.get
    if line_items is None:
        inline = g("lineItems") or []
        if isinstance(inline, dict):
            inline = inline.get("nodes") or [e["node"] for e in inline.get("edges") or ()]
        line_items = inline
    for key in ("currentTotalPriceSet", "totalPriceSet"):
        money = (g(key) or {}).get("shopMoney")
        if money:
            total, currency = _amount(money.get("amount"), _s), _s(money.get("currencyCode"))
            break
    else:
        total, currency = _amount(g("totalPrice"), _s), _s(g("currencyCode"))
    ids: dict[int, None] = {}
    tags: dict[str, None] = {}
    for item in line_items:
        product = item.get("product") or {}
        product_id = product.get("id") or item.get("productId")
        if product_id is not None and product_id != "":
            ids[int(_id(product_id))] = None
        for tag in product.get("tags") or item.get("productTags") or ():
            tags[tag] = None
    product_tags = sorted(tags)
    created = g("createdAt")
    customer = g("customer") or {}
    return (
        prefix
        + "\t".join(
            [
                _id(node["id"]),
                _id(customer.get("id")),
                _s(g("name")),
                _raw(created, _s),
                _raw(g("processedAt") or created, _s),
                _raw(g("updatedAt") or created, _s),
                total,
                currency,
                _s(g("displayFinancialStatus")),
                _raw(g("cancelledAt"), _s),
                _bool(g("test")),
                _json(sorted(ids), _s),
                _json(product_tags, _s),
                _s(_tags_text(tuple(product_tags))),
            ]
        )
        + "\n"
    )
