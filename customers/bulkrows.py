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
    return _JSON_SPECIAL(raw if isinstance(raw, bytes) else raw.encode()) is None


def _raw(value: Any, s=_s) -> str:
    """A value PostgreSQL parses (timestamp, amount) as sent, or NULL when empty."""
    return s(value) if value else NULL


def _json(value: Any, s=_s) -> str:
    return s(orjson.dumps(value).decode())


def _bool(value: Any) -> str:
    return "t" if value else "f"


def _id(gid: Any) -> str:
    """mapping.gid_id as text ("\\N" for none)."""
    if type(gid) is str:
        tail = gid.rpartition("/")[2]
        if tail.isdigit() and tail.isascii() and tail[0] != "0":
            return tail  # what int() would give back, without the round trip
    if gid is None or gid == "":
        return NULL
    if isinstance(gid, int):
        return str(gid)
    return str(int(str(gid).rsplit("/", 1)[-1].split("?", 1)[0]))


def _amount(value: Any, s=_s) -> str:
    return "0" if value in (None, "") else s(value)


_ADDRESS_KEYS = ("firstName", "lastName", "company", "address1", "address2", "city", "provinceCode")


def _texts(values, clean: bool) -> list[str]:
    """`_s` of each value; for a clean node without a call per string (str and None inline)."""
    if clean:
        return ["" if v is None else v if v.__class__ is str else _s(v) for v in values]
    return [_s(v) for v in values]


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
    email = g("defaultEmailAddress") or _EMPTY
    phone = g("defaultPhoneNumber") or _EMPTY
    email_consent = g("emailMarketingConsent") or _EMPTY
    sms_consent = g("smsMarketingConsent") or _EMPTY
    spent = g("amountSpent")
    orders = g("numberOfOrders")
    mergeable = g("mergeable")
    statistics = g("statistics") or _EMPTY
    tags = g("tags") or ()
    state = g("state") or "DISABLED"
    if state not in CUSTOMER_STATES:
        raise ValueError(f"unknown customer state {state!r}")
    gid = node["id"]
    customer_id = _id(gid)
    first_name = g("firstName")
    first_name = "" if first_name is None else str(first_name)
    last_name = g("lastName")
    last_name = "" if last_name is None else str(last_name)
    email_raw = email.get("emailAddress") or g("email")
    email_raw = "" if email_raw is None else str(email_raw)
    phone_raw = phone.get("phoneNumber") or g("phone")
    phone_raw = "" if phone_raw is None else str(phone_raw)

    default = g("defaultAddress") or _EMPTY
    default_id = _id(default.get("id"))
    address_lines = []
    if default and default_id == NULL and not addresses:  # an inline default address without id
        city, province, country, zip_code = _texts(
            map(default.get, ("city", "provinceCode", "countryCodeV2", "zip")), clean
        )
    else:
        ids = [_id(a.get("id")) for a in addresses]
        chosen = ids.index(default_id) if default_id in ids else None
        if chosen is None and ids and default_id == NULL:
            chosen = 0
        city = province = country = zip_code = ""
        for position, address in enumerate(addresses):  # address_from_graphql's fields
            a = address.get
            city_, province_ = _s(a("city")), _s(a("provinceCode"))
            country_, zip_ = _s(a("countryCodeV2") or a("countryCode")), _s(a("zip"))
            if position == chosen:
                city, province, country, zip_code = city_, province_, country_, zip_
            address_lines.append(
                f"{prefix}{customer_id}\t{ids[position]}\t{'t' if position == chosen else 'f'}\t"
                f"{_s(a('firstName'))}\t{_s(a('lastName'))}\t{_s(a('company'))}\t"
                f"{_s(a('address1'))}\t{_s(a('address2'))}\t{city_}\t{province_}\t{country_}\t"
                f"{zip_}\t{_s(a('phone'))}\n"
            )
    errors = mergeable.get("errorFields") if mergeable else None
    created, updated, abandoned = g("createdAt"), g("updatedAt"), g("lastAbandonedCheckoutAt")
    email_state, email_level, sms_state, sms_level, tier, note, locale = _texts(
        (
            email.get("marketingState") or email_consent.get("marketingState"),
            email.get("marketingOptInLevel") or email_consent.get("marketingOptInLevel"),
            phone.get("marketingState") or sms_consent.get("marketingState"),
            phone.get("marketingOptInLevel") or sms_consent.get("marketingOptInLevel"),
            statistics.get("predictedSpendTier"),
            g("note"),
            g("locale"),
        ),
        clean,
    )
    email_at = email.get("marketingUpdatedAt") or email_consent.get("consentUpdatedAt")
    sms_at = phone.get("marketingUpdatedAt") or sms_consent.get("consentUpdatedAt")
    region = _unescaped(country) or shop_country
    line = (
        f"{prefix}{customer_id}\t{_s(gid)}\t{_s(first_name)}\t{_s(last_name)}\t{_s(email_raw)}\t"
        f"{_s(phone_raw)}\t{state}\t{_tag_columns(tuple(tags))}\t{note}\t"
        f"{'t' if g('verifiedEmail') else 'f'}\t{'t' if g('taxExempt') else 'f'}\t{locale}\t"
        f"{'t' if orders is not None and spent is not None else 'f'}\t"
        f"{str(int(orders)) if orders is not None else '0'}\t"
        f"{_amount(spent['amount'], _s) if spent else '0'}\t"
        f"{_s(spent.get('currencyCode')) if spent else ''}\t"
        f"{_raw(abandoned, _s)}\t{_raw(created, _s)}\t{_raw(updated, _s)}\t"
        f"{email_state}\t{email_level}\t{_raw(email_at, _s)}\t"
        f"{sms_state}\t{sms_level}\t{_raw(sms_at, _s)}\t{tier}\t"
        f"{_nullable_bool(mergeable.get('isMergeable')) if mergeable else NULL}\t"
        f"{_json(list(errors), _s) if errors else '[]'}\t"
        f"{city}\t{province}\t{country}\t{zip_code}\t"
        f"{_s(email_normalize(email_raw))}\t{_s(phone_normalize(phone_raw, region=region))}\t"
        f"{_s(name_key(first_name))}\t{_s(name_key(last_name))}\t"
        f"{_s(postcode_normalize(_unescaped(zip_code), country_code=_unescaped(country)))}\n"
    )
    return line, address_lines


_EMPTY: dict[str, Any] = {}


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
    `clean`: no value of the order's own JSON line needs COPY escaping (its line items' values
    never reach the line as text: product ids are numbers, tags are always escaped)."""
    _s = _plain if clean else _escaped
    g = node.get
    if line_items is None:
        inline = g("lineItems") or []
        if isinstance(inline, dict):
            inline = inline.get("nodes") or [e["node"] for e in inline.get("edges") or ()]
        line_items = inline
    money = (g("currentTotalPriceSet") or _EMPTY).get("shopMoney")
    if not money:
        money = (g("totalPriceSet") or _EMPTY).get("shopMoney")
    if money:
        total, currency = money.get("amount"), money.get("currencyCode")
    else:
        total, currency = g("totalPrice"), g("currencyCode")
    ids: dict[int, None] = {}
    tags: dict[str, None] = {}
    for item in line_items:
        product = item.get("product")
        if product:
            product_id = product.get("id") or item.get("productId")
            product_tags = product.get("tags") or item.get("productTags")
        else:
            product_id, product_tags = item.get("productId"), item.get("productTags")
        if product_id is not None and product_id != "":
            ids[_product_id(product_id)] = None
        if product_tags:
            for tag in product_tags:
                tags[tag] = None
    created = g("createdAt")
    customer = g("customer")
    processed = g("processedAt") or created
    updated = g("updatedAt") or created
    cancelled = g("cancelledAt")
    return (
        f"{prefix}{_id(node['id'])}\t{_id(customer.get('id')) if customer else NULL}\t"
        f"{_s(g('name'))}\t{_s(created) if created else NULL}\t"
        f"{_s(processed) if processed else NULL}\t{_s(updated) if updated else NULL}\t"
        f"{'0' if total is None or total == '' else _s(total)}\t{_s(currency)}\t"
        f"{_s(g('displayFinancialStatus'))}\t{_s(cancelled) if cancelled else NULL}\t"
        f"{'t' if g('test') else 'f'}\t{_ids_json(tuple(sorted(ids)))}\t"
        f"{_tag_columns(tuple(sorted(tags)))}\n"
    )


@lru_cache(maxsize=1 << 14)  # a shop has far fewer products than line items
def _product_id(gid: Any) -> int:
    return int(_id(gid))


@lru_cache(maxsize=1 << 14)
def _ids_json(ids: tuple[int, ...]) -> str:
    return orjson.dumps(ids).decode()


@lru_cache(maxsize=1 << 15)  # tag sets repeat across customers and orders
def _tag_columns(tags: tuple[str, ...]) -> str:
    """Two COPY columns: the tags as a JSON array, and tags_normalize's text."""
    return f"{_json(list(tags))}\t{_s(tags_normalize(list(tags)))}"
