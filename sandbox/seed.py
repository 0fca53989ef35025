"""The seed format (docs/sandbox-seed-format.md): Shopify-shaped customer dicts in and out.

`apply_customer_values` is the one place that turns a customer dict (a JSONL line, a control-API
body) into store records, checking each value the way Shopify would and naming what is wrong.
`customer_to_seed` writes the same shape back (the control API's answers, inspection).
"""

from __future__ import annotations

import gc
import json
import re
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sandbox.store import (
    CUSTOMER_STATES,
    EMAIL_MARKETING_STATES,
    ID_SPACE,
    OPT_IN_LEVELS,
    SMS_MARKETING_STATES,
    Address,
    Customer,
    LineItem,
    Order,
    SandboxError,
    intern,
    normalise_tags,
    now_ms,
)

if TYPE_CHECKING:
    from sandbox.store import Store

GID = re.compile(r"gid://shopify/(\w+)/(\d+)(?:\?.*)?$")

CUSTOMER_KEYS = {
    "id",
    "firstName",
    "lastName",
    "email",
    "phone",
    "defaultEmailAddress",
    "defaultPhoneNumber",
    "emailMarketingConsent",
    "smsMarketingConsent",
    "state",
    "verifiedEmail",
    "taxExempt",
    "locale",
    "tags",
    "note",
    "createdAt",
    "updatedAt",
    "addresses",
    "defaultAddressId",
    "defaultAddress",
    "lastAbandonedCheckoutAt",
    "orders",
    "mergeBlockers",
    "dataSaleOptOut",
    # Derived by the sandbox from the orders; accepted and ignored so exports load back.
    "numberOfOrders",
    "amountSpent",
    "displayName",
    "legacyResourceId",
}
ADDRESS_KEYS = {
    "id": "id",
    "firstName": "first_name",
    "lastName": "last_name",
    "address1": "address1",
    "address2": "address2",
    "city": "city",
    "provinceCode": "province_code",
    "countryCodeV2": "country_code",
    "countryCode": "country_code",
    "zip": "zip",
    "phone": "phone",
    "company": "company",
    "province": None,
    "country": None,
    "name": None,
}
ORDER_KEYS = {
    "id",
    "name",
    "createdAt",
    "processedAt",
    "updatedAt",
    "totalPrice",
    "currencyCode",
    "displayFinancialStatus",
    "cancelledAt",
    "lineItems",
    "test",
    "email",
    "customerId",
}
LINE_ITEM_KEYS = {"id", "quantity", "productId", "productTags", "title"}
FINANCIAL_STATUSES = (
    "AUTHORIZED",
    "EXPIRED",
    "PAID",
    "PARTIALLY_PAID",
    "PARTIALLY_REFUNDED",
    "PENDING",
    "REFUNDED",
    "VOIDED",
)


# ------------------------------------------------------------------ scalars
def parse_gid(value: Any, kind: str) -> int:
    """`gid://shopify/<kind>/<n>` or a bare number -> n."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        head, _, tail = value.rpartition("/")
        if tail.isdigit() and head == f"gid://shopify/{kind}" and tail[0] != "0":
            return int(tail)
        if value.isdigit():
            return int(value)
        match = GID.match(value)
        if match and match.group(1) == kind:
            return int(match.group(2))
    raise SandboxError(f"expected a {kind} id (gid://shopify/{kind}/<number>), got {value!r}")


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def parse_time(value: Any, name: str) -> int | None:
    """ISO-8601 -> epoch milliseconds (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SandboxError(f"{name} must be an ISO-8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SandboxError(f"{name} is not an ISO-8601 date-time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


_DAY_PREFIXES: dict[int, str] = {}


def format_time(ms: int | None) -> str | None:
    """Shopify's DateTime: second precision, UTC, 'Z'.

    Bulk exports format millions of these: the date part is cached per day and the time of day
    is plain arithmetic (about six times faster than datetime.strftime).
    """
    if ms is None:
        return None
    day, rest = divmod(ms // 1000, 86_400)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        prefix = _DAY_PREFIXES[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * 86_400))
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def parse_money(value: Any, name: str) -> int:
    if isinstance(value, str):  # fast path for "59.90"
        whole, dot, cents = value.partition(".")
        if whole.isdigit() and (not dot or (cents.isdigit() and len(cents) <= 2)):
            return int(whole) * 100 + (int(cents.ljust(2, "0")) if cents else 0)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise SandboxError(f"{name} must be a decimal amount, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise SandboxError(f"{name} must be a non-negative amount, got {value!r}")
    return int((amount * 100).to_integral_value())


def format_money(minor: int) -> str:
    """Shopify's Decimal output: '59.9', '12.0', '0.0'."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    text = f"{whole}.{cents:02d}".rstrip("0")
    return sign + (text + "0" if text.endswith(".") else text)


def _enum(value: Any, allowed: tuple[str, ...], name: str) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise SandboxError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return sys.intern(value)


def _text(value: Any, name: str, *, limit: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SandboxError(f"{name} must be a string, got {value!r}")
    value = value.strip()
    if len(value) > limit:
        raise SandboxError(f"{name} is too long (maximum is {limit} characters)")
    return value or None


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise SandboxError(f"{name} must be true or false, got {value!r}")
    return value


def normalise_email(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SandboxError(f"email must be a string, got {value!r}")
    email = re.sub(r"\s+", "", value)
    if not email:
        return None
    if len(email) > 255:
        raise SandboxError("Email is too long (maximum is 255 characters)")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise SandboxError(f"Email is invalid: {value!r}")
    return email


E164 = re.compile(r"\+[1-9]\d{6,14}")


def normalise_phone(value: Any, region: str) -> str | None:
    """E.164, as Shopify stores a customer's phone; the store's country for national numbers."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SandboxError(f"phone must be a string, got {value!r}")
    phone = value.strip()
    if not phone:
        return None
    if E164.fullmatch(phone):
        return phone
    import phonenumbers

    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        raise SandboxError(f"Phone is invalid: {value!r}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise SandboxError(f"Phone is invalid: {value!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# ------------------------------------------------------------------ customers
def apply_customer_values(
    store: Store, customer: Customer, values: dict[str, Any], *, creating: bool
) -> None:
    """Copy a Shopify-shaped dict onto `customer`, validating every value. Raises SandboxError."""
    if not isinstance(values, dict):
        raise SandboxError(f"a customer must be a JSON object, got {type(values).__name__}")
    unknown = set(values) - CUSTOMER_KEYS
    if unknown:
        raise SandboxError(f"unknown customer field(s): {', '.join(sorted(unknown))}")
    # Work on a copy so a bad value leaves the customer untouched.
    staged: dict[str, Any] = {}

    if "firstName" in values:
        staged["first_name"] = _text(values["firstName"], "firstName")
    if "lastName" in values:
        staged["last_name"] = _text(values["lastName"], "lastName")
    email_block = values.get("defaultEmailAddress", ...)
    if "email" in values:
        staged["email"] = normalise_email(values["email"])
    if isinstance(email_block, dict):
        staged["email"] = normalise_email(email_block.get("emailAddress"))
        _consent(staged, "email", email_block, EMAIL_MARKETING_STATES, "defaultEmailAddress")
    elif email_block is None:
        staged["email"] = None
    if "emailMarketingConsent" in values and values["emailMarketingConsent"] is not None:
        block = values["emailMarketingConsent"]
        _consent(
            staged, "email", _rename_consent(block), EMAIL_MARKETING_STATES, "emailMarketingConsent"
        )
    phone_block = values.get("defaultPhoneNumber", ...)
    if "phone" in values:
        staged["phone"] = normalise_phone(values["phone"], store.country)
    if isinstance(phone_block, dict):
        staged["phone"] = normalise_phone(phone_block.get("phoneNumber"), store.country)
        _consent(staged, "sms", phone_block, SMS_MARKETING_STATES, "defaultPhoneNumber")
    elif phone_block is None:
        staged["phone"] = None
    if "smsMarketingConsent" in values and values["smsMarketingConsent"] is not None:
        block = values["smsMarketingConsent"]
        _consent(staged, "sms", _rename_consent(block), SMS_MARKETING_STATES, "smsMarketingConsent")
    if "state" in values:
        staged["state"] = _enum(values["state"], CUSTOMER_STATES, "state") or "DISABLED"
    for key, attr in (
        ("verifiedEmail", "verified_email"),
        ("taxExempt", "tax_exempt"),
        ("dataSaleOptOut", "data_sale_opt_out"),
    ):
        if key in values:
            staged[attr] = _bool(values[key], key)
    if "locale" in values:
        locale = values["locale"] or "en"
        if not isinstance(locale, str) or not re.fullmatch(
            r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", locale
        ):
            raise SandboxError(f"Locale is invalid: {values['locale']!r}")
        staged["locale"] = sys.intern(locale)
    if "tags" in values:
        tags = normalise_tags(values["tags"])
        if len(tags) > 250:
            raise SandboxError("Tags cannot be more than 250")
        if any(len(tag) > 255 for tag in tags):
            raise SandboxError("Tags is too long (maximum is 255 characters)")
        staged["tags"] = tags
    if "note" in values:
        note = values["note"]
        if note is not None and not isinstance(note, str):
            raise SandboxError(f"note must be a string, got {note!r}")
        if note is not None and len(note) > 5000:
            raise SandboxError("Note is too long (maximum is 5000 characters)")
        staged["note"] = note
    for key, attr in (
        ("createdAt", "created_at"),
        ("updatedAt", "updated_at"),
        ("lastAbandonedCheckoutAt", "last_abandoned_checkout_at"),
    ):
        if key in values:
            moment = parse_time(values[key], key)
            if moment is None and attr != "last_abandoned_checkout_at":
                raise SandboxError(f"{key} cannot be null")
            staged[attr] = moment
    if "addresses" in values:
        staged["addresses"] = _addresses(store, values["addresses"])
    if "defaultAddressId" in values or "addresses" in values:
        addresses = staged.get("addresses", customer.addresses)
        default_id = values.get("defaultAddressId")
        if default_id is None:
            staged["default_address_id"] = addresses[0].id if addresses else None
        else:
            number = parse_gid(default_id, "MailingAddress")
            if not any(address.id == number for address in addresses):
                raise SandboxError(
                    f"defaultAddressId {default_id} is not one of the customer's addresses"
                )
            staged["default_address_id"] = number
    if "mergeBlockers" in values:
        blockers = values["mergeBlockers"]
        if not isinstance(blockers, dict):
            raise SandboxError("mergeBlockers must be an object")
        staged_blockers = customer.merge_blockers() if creating else None
        if staged_blockers is None:
            from sandbox.store import MergeBlockers

            staged_blockers = MergeBlockers()
            if customer.blockers is not None:
                staged_blockers.update(customer.blockers.as_dict())
        staged_blockers.update(blockers)
        staged["blockers"] = staged_blockers if staged_blockers.any() else None
    orders = None
    if values.get("orders"):
        if not isinstance(values["orders"], list):
            raise SandboxError("orders must be a list")
        orders = [
            build_order(store, order, customer=customer, placing=False)
            for order in values["orders"]
        ]

    identity_after = {
        "first_name": staged.get("first_name", customer.first_name),
        "last_name": staged.get("last_name", customer.last_name),
        "email": staged.get("email", customer.email),
        "phone": staged.get("phone", customer.phone),
    }
    if not any(identity_after.values()):
        raise SandboxError("A name, phone number, or email address must be present")

    for attr, value in staged.items():
        setattr(customer, attr, value)
    # Consent exists only with an address to consent with.
    if customer.email is None:
        customer.email_marketing_state = customer.email_opt_in_level = (
            customer.email_consent_updated_at
        ) = None
    elif customer.email_marketing_state is None:
        customer.email_marketing_state = "NOT_SUBSCRIBED"
        customer.email_opt_in_level = "SINGLE_OPT_IN"
    if customer.phone is None:
        customer.sms_marketing_state = customer.sms_opt_in_level = (
            customer.sms_consent_updated_at
        ) = None
    elif customer.sms_marketing_state is None:
        customer.sms_marketing_state = "NOT_SUBSCRIBED"
        customer.sms_opt_in_level = "UNKNOWN"
    if orders:
        for order in orders:
            store.orders[order.id] = order
        customer.orders.extend(orders)


def _rename_consent(block: Any) -> dict[str, Any]:
    if not isinstance(block, dict):
        raise SandboxError("marketing consent must be an object")
    return {
        "marketingState": block.get("marketingState"),
        "marketingOptInLevel": block.get("marketingOptInLevel"),
        "marketingUpdatedAt": block.get("consentUpdatedAt", block.get("marketingUpdatedAt")),
    }


def _consent(staged: dict, prefix: str, block: dict, states: tuple[str, ...], name: str) -> None:
    if "marketingState" in block:
        staged[f"{prefix}_marketing_state"] = _enum(
            block["marketingState"], states, f"{name}.marketingState"
        )
    if "marketingOptInLevel" in block:
        staged[f"{prefix}_opt_in_level"] = _enum(
            block["marketingOptInLevel"], OPT_IN_LEVELS, f"{name}.marketingOptInLevel"
        )
    if "marketingUpdatedAt" in block:
        staged[f"{prefix}_consent_updated_at"] = parse_time(
            block["marketingUpdatedAt"], f"{name}.marketingUpdatedAt"
        )


def _addresses(store: Store, raw: Any) -> list[Address]:
    if not isinstance(raw, list):
        raise SandboxError("addresses must be a list")
    result: list[Address] = []
    seen: set[tuple] = set()
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            raise SandboxError(f"addresses[{position}] must be an object")
        unknown = set(item) - set(ADDRESS_KEYS)
        if unknown:
            raise SandboxError(
                f"addresses[{position}] has unknown field(s): {', '.join(sorted(unknown))}"
            )
        fields: dict[str, Any] = {}
        for key, attr in ADDRESS_KEYS.items():
            if attr is None or attr == "id" or key not in item:
                continue
            value = _text(item[key], f"addresses[{position}].{key}")
            if attr in ("country_code", "province_code") and value:
                value = sys.intern(value.upper())
            fields[attr] = value
        if fields.get("country_code") and not re.fullmatch(r"[A-Z]{2}", fields["country_code"]):
            raise SandboxError(f"addresses[{position}].countryCodeV2 must be a two-letter code")
        address_id = (
            parse_gid(item["id"], "MailingAddress") if item.get("id") else store.sandbox.next_id()
        )
        store.sandbox.reserve_id(address_id)
        address = Address(address_id, **fields)
        if address.key() in seen:
            continue  # identical entries collapse to one, as in Shopify
        seen.add(address.key())
        result.append(address)
    return result


# ------------------------------------------------------------------ orders
def build_order(
    store: Store, values: dict[str, Any], *, customer: Customer | None, placing: bool
) -> Order:
    if not isinstance(values, dict):
        raise SandboxError("an order must be a JSON object")
    if not ORDER_KEYS.issuperset(values):
        unknown = set(values) - ORDER_KEYS
        raise SandboxError(f"unknown order field(s): {', '.join(sorted(unknown))}")
    if values.get("id"):
        order_id = parse_gid(values["id"], "Order")
        if order_id in store.orders:
            raise SandboxError(f"order {order_id} already exists")
        store.sandbox.reserve_id(order_id)
    else:
        order_id = store.sandbox.next_id()
    order = Order(order_id)
    order.customer_id = customer.id if customer is not None else None
    order.email = customer.email if customer is not None else normalise_email(values.get("email"))
    created_raw = values.get("createdAt")
    moment = parse_time(created_raw, "createdAt") or now_ms()
    order.created_at = moment
    # Equal timestamps share one int object (millions of orders).
    processed_raw = values.get("processedAt")
    order.processed_at = (
        moment if processed_raw in (None, created_raw) else parse_time(processed_raw, "processedAt")
    )
    updated_raw = values.get("updatedAt")
    order.updated_at = (
        moment if updated_raw in (None, created_raw) else parse_time(updated_raw, "updatedAt")
    )
    order.cancelled_at = parse_time(values.get("cancelledAt"), "cancelledAt")
    name = values.get("name")
    if name is not None and not isinstance(name, str):
        raise SandboxError("order name must be a string")
    order.name = name or store.next_order_name()
    order.currency = intern(values.get("currencyCode") or store.currency)
    order.financial_status = _enum(
        values.get("displayFinancialStatus", "PAID"), FINANCIAL_STATUSES, "displayFinancialStatus"
    )
    order.test = bool(values.get("test", False))
    raw_items = values.get("lineItems") or []
    if not isinstance(raw_items, list):
        raise SandboxError("lineItems must be a list")
    if placing and not raw_items:
        raise SandboxError("Line items must have at least one line item")
    order.line_items = tuple(
        _line_item(store, item, position) for position, item in enumerate(raw_items)
    )
    if "totalPrice" in values:
        order.total_minor = parse_money(values["totalPrice"], "totalPrice")
    elif placing:
        raise SandboxError("totalPrice is required")
    return order


_PRODUCT_IDS: dict[int, int] = {}


def _line_item(store: Store, item: Any, position: int) -> LineItem:
    if not isinstance(item, dict):
        raise SandboxError(f"lineItems[{position}] must be an object")
    if not LINE_ITEM_KEYS.issuperset(item):
        unknown = set(item) - LINE_ITEM_KEYS
        raise SandboxError(
            f"lineItems[{position}] has unknown field(s): {', '.join(sorted(unknown))}"
        )
    quantity = item.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise SandboxError(f"lineItems[{position}].quantity must be a positive integer")
    product_id = parse_gid(item["productId"], "Product") if item.get("productId") else None
    if product_id is not None:
        product_id = _PRODUCT_IDS.setdefault(product_id, product_id)
    item_id = parse_gid(item["id"], "LineItem") if item.get("id") else store.sandbox.next_id()
    store.sandbox.reserve_id(item_id)
    return LineItem(
        item_id, quantity, product_id, normalise_tags(item.get("productTags")), item.get("title")
    )


# ------------------------------------------------------------------ out
def address_to_seed(address: Address) -> dict[str, Any]:
    return {
        "id": gid("MailingAddress", address.id),
        "firstName": address.first_name,
        "lastName": address.last_name,
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "provinceCode": address.province_code,
        "countryCodeV2": address.country_code,
        "zip": address.zip,
        "phone": address.phone,
        "company": address.company,
    }


def order_to_seed(order: Order) -> dict[str, Any]:
    return {
        "id": gid("Order", order.id),
        "name": order.name,
        "customerId": gid("Customer", order.customer_id) if order.customer_id else None,
        "email": order.email,
        "createdAt": format_time(order.created_at),
        "processedAt": format_time(order.processed_at),
        "updatedAt": format_time(order.updated_at),
        "totalPrice": format_money(order.total_minor),
        "currencyCode": order.currency,
        "displayFinancialStatus": order.financial_status,
        "cancelledAt": format_time(order.cancelled_at),
        "test": order.test,
        "lineItems": [
            {
                "id": gid("LineItem", item.id),
                "quantity": item.quantity,
                "productId": gid("Product", item.product_id) if item.product_id else None,
                "productTags": list(item.product_tags),
                "title": item.title,
            }
            for item in order.line_items
        ],
    }


def customer_to_seed(customer: Customer, *, with_orders: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": gid("Customer", customer.id),
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "defaultEmailAddress": None
        if customer.email is None
        else {
            "emailAddress": customer.email,
            "marketingState": customer.email_marketing_state,
            "marketingOptInLevel": customer.email_opt_in_level,
            "marketingUpdatedAt": format_time(customer.email_consent_updated_at),
        },
        "defaultPhoneNumber": None
        if customer.phone is None
        else {
            "phoneNumber": customer.phone,
            "marketingState": customer.sms_marketing_state,
            "marketingOptInLevel": customer.sms_opt_in_level,
            "marketingUpdatedAt": format_time(customer.sms_consent_updated_at),
        },
        "state": customer.state,
        "verifiedEmail": customer.verified_email,
        "taxExempt": customer.tax_exempt,
        "locale": customer.locale,
        "tags": list(customer.tags),
        "note": customer.note,
        "createdAt": format_time(customer.created_at),
        "updatedAt": format_time(customer.updated_at),
        "addresses": [address_to_seed(address) for address in customer.addresses],
        "defaultAddressId": gid("MailingAddress", customer.default_address_id)
        if customer.default_address_id
        else None,
        "lastAbandonedCheckoutAt": format_time(customer.last_abandoned_checkout_at),
        "numberOfOrders": customer.number_of_orders(),
        "mergeBlockers": (customer.blockers.as_dict() if customer.blockers else None),
    }
    if with_orders:
        data["orders"] = [order_to_seed(order) for order in customer.orders]
    return data


# ------------------------------------------------------------------ bulk load
def iter_jsonl(
    handle: IO[str] | Iterable[str], *, source: str = "seed"
) -> Iterator[tuple[int, dict]]:
    for number, line in enumerate(handle, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise SandboxError(f"{source} line {number}: not valid JSON ({error.msg})") from None


def load_customers(store: Store, lines: Iterable[str], *, source: str = "seed") -> int:
    """Load JSONL customers into `store` without webhooks (they are pre-existing data).

    A bad line raises SandboxError naming the line; customers loaded before it stay loaded.
    """
    return load_records(store, iter_jsonl(lines, source=source), source=source)


def load_records(
    store: Store, records: Iterable[dict] | Iterable[tuple[int, dict]], *, source: str = "seed"
) -> int:
    """Load seed-format customer dicts (or (line number, dict) pairs) into `store`, no webhooks."""
    loaded = 0
    sandbox = store.sandbox
    # Millions of long-lived records: the cyclic GC would rescan them again and again while
    # loading and pause later requests; switch it off for the load, then freeze what was loaded.
    collecting = gc.isenabled()
    gc.disable()
    # Ids are reserved once at the end (not per record); other stores wait for the load.
    # Lock order everywhere: a store's lock before the sandbox's.
    with store.lock, sandbox.lock:
        sandbox._deferred_max = 0
        try:
            for position, item in enumerate(records, start=1):
                number, values = item if isinstance(item, tuple) else (position, item)
                try:
                    if not isinstance(values, dict):
                        raise SandboxError("a customer must be a JSON object")
                    raw_id = values.get("id")
                    customer_id = (
                        parse_gid(raw_id, "Customer") if raw_id else store.sandbox.next_id()
                    )
                    if customer_id in store.customers:
                        raise SandboxError(f"customer {customer_id} appears twice")
                    store.sandbox.reserve_id(customer_id)
                    customer = Customer(customer_id)
                    customer.created_at = customer.updated_at = store._stamp()
                    apply_customer_values(store, customer, values, creating=True)
                except SandboxError as error:
                    raise SandboxError(f"{source} line {number}: {error}") from None
                store.customers[customer_id] = customer
                if customer.updated_at > store._last_updated_ms:
                    store._last_updated_ms = customer.updated_at
                loaded += 1
        finally:
            deferred, sandbox._deferred_max = sandbox._deferred_max, None
            sandbox.reserve_id(deferred)
            _finish_load(store)
            if collecting:
                gc.enable()
            gc.freeze()
    return loaded


def _finish_load(store: Store) -> None:
    store.ids_index = sorted(store.customers)
    store.updated_index = sorted(c.updated_at * ID_SPACE + c.id for c in store.customers.values())
    store.generation += 1
    if store.orders:
        numbers = [int(o.name[1:]) for o in store.orders.values() if o.name[1:].isdigit()]
        if numbers:
            store._order_number = max(store._order_number, max(numbers))


def load_file(store: Store, path: str | Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return load_customers(store, handle, source=str(path))
