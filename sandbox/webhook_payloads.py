"""REST-shaped webhook payloads built from the sandbox store's records.

Shopify serialises webhook bodies in the REST Admin API shape (snake_case keys, numeric ids next to
`admin_graphql_api_id`, lowercase enum values, tags as one comma-joined string, timestamps with the
shop's UTC offset, money as decimal strings). These functions turn `sandbox.store` records
(`Customer`, `Address`, `Order`, `Store`) into exactly that shape. Pure functions, no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

COUNTRY_NAMES = {
    "AT": "Austria", "AU": "Australia", "BE": "Belgium", "BR": "Brazil", "CA": "Canada",
    "CH": "Switzerland", "CZ": "Czech Republic", "DE": "Germany", "DK": "Denmark", "ES": "Spain",
    "FI": "Finland", "FR": "France", "GB": "United Kingdom", "IE": "Ireland", "IT": "Italy",
    "JP": "Japan", "MX": "Mexico", "NL": "Netherlands", "NO": "Norway", "NZ": "New Zealand",
    "PL": "Poland", "PT": "Portugal", "SE": "Sweden", "US": "United States",
}  # fmt: skip
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "CLP", "ISK", "HUF", "TWD", "VND"}


def gid(kind: str, value: int | None) -> str | None:
    return None if value is None else f"gid://shopify/{kind}/{value}"


def legacy_id(gid: str | None) -> int | None:
    """`gid://shopify/Customer/42` -> 42 (query strings such as `?model_name=...` dropped)."""
    if not gid:
        return None
    return int(gid.rsplit("/", 1)[1].split("?", 1)[0])


def iso_utc(ms: int | None) -> str | None:
    """Epoch milliseconds -> GraphQL's DateTime (`2024-01-02T10:00:00Z`)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rest_timestamp(ms: int | None, time_zone: str | None = None) -> str | None:
    """Epoch milliseconds -> the shop-local form webhooks use (`2024-01-02T05:00:00-05:00`)."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, ZoneInfo(time_zone or "UTC"))
    return moment.isoformat(timespec="seconds")


def money(minor: int, currency: str) -> str:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return str(minor)
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _lower(value: str | None) -> str | None:
    return value.lower() if value else value


def rest_address(address, *, customer_id: int | None, default_id: int | None) -> dict:
    first, last = address.first_name, address.last_name
    country = address.country_code
    return {
        "id": address.id,
        "customer_id": customer_id,
        "first_name": first,
        "last_name": last,
        "company": address.company,
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "province": address.province_code,
        "country": COUNTRY_NAMES.get(country or "", country),
        "zip": address.zip,
        "phone": address.phone,
        "name": " ".join(part for part in (first, last) if part),
        "province_code": address.province_code,
        "country_code": country,
        "country_name": COUNTRY_NAMES.get(country or "", country),
        "default": address.id == default_id,
    }


def email_consent(customer, time_zone: str | None = None) -> dict | None:
    if not customer.email:
        return None
    return {
        "state": _lower(customer.email_marketing_state) or "not_subscribed",
        "opt_in_level": _lower(customer.email_opt_in_level),
        "consent_updated_at": rest_timestamp(customer.email_consent_updated_at, time_zone),
    }


def sms_consent(customer, time_zone: str | None = None) -> dict | None:
    if not customer.phone:
        return None
    return {
        "state": _lower(customer.sms_marketing_state) or "not_subscribed",
        "opt_in_level": _lower(customer.sms_opt_in_level),
        "consent_updated_at": rest_timestamp(customer.sms_consent_updated_at, time_zone),
        "consent_collected_from": "OTHER",
    }


def rest_customer(customer, *, store) -> dict:
    """The body of customers/create, customers/update, customers/enable and customers/disable."""
    time_zone = store.iana_timezone
    default = customer.default_address()
    default_id = default.id if default is not None else None
    addresses = [
        rest_address(address, customer_id=customer.id, default_id=default_id)
        for address in customer.addresses
    ]
    blockers = customer.blockers
    payload = {
        "id": customer.id,
        "email": customer.email,
        "created_at": rest_timestamp(customer.created_at, time_zone),
        "updated_at": rest_timestamp(customer.updated_at, time_zone),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "state": _lower(customer.state) or "disabled",
        "note": customer.note,
        "verified_email": bool(customer.verified_email),
        "multipass_identifier": blockers.multipass_identifier if blockers else None,
        "tax_exempt": bool(customer.tax_exempt),
        "phone": customer.phone,
        "currency": store.currency,
        "addresses": addresses,
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", customer.id),
        "email_marketing_consent": email_consent(customer, time_zone),
        "sms_marketing_consent": sms_consent(customer, time_zone),
        "tags": ", ".join(customer.tags),
    }
    if default is not None:
        payload["default_address"] = next(a for a in addresses if a["id"] == default_id)
    return payload


def rest_customer_deleted(customer_id: int) -> dict:
    return {
        "id": customer_id,
        "phone": None,
        "addresses": [],
        "tax_exemptions": [],
        "email_marketing_consent": None,
        "sms_marketing_consent": None,
        "admin_graphql_api_id": gid("Customer", customer_id),
    }


def email_consent_update(customer, *, store) -> dict:
    """customers_email_marketing_consent/update."""
    return {
        "customer_id": customer.id,
        "email_address": customer.email,
        "email_marketing_consent": email_consent(customer, store.iana_timezone),
    }


def sms_consent_update(customer, *, store) -> dict:
    """customers_marketing_consent/update (the SMS consent topic)."""
    return {
        "id": customer.id,
        "phone": customer.phone,
        "sms_marketing_consent": sms_consent(customer, store.iana_timezone),
    }


def tags_changed(customer_id: int, tags, occurred_ms: int) -> dict:
    """customer.tags_added / customer.tags_removed (event topics use camelCase and gids)."""
    return {
        "customerId": gid("Customer", customer_id),
        "tags": list(tags),
        "occurredAt": iso_utc(occurred_ms),
    }


def customers_merge(
    *, kept_id: int | None, deleted_id: int | None, job_id: str | None, status: str, errors=()
) -> dict:
    return {
        "admin_graphql_api_customer_kept_id": gid("Customer", kept_id),
        "admin_graphql_api_customer_deleted_id": gid("Customer", deleted_id),
        "admin_graphql_api_job_id": job_id,
        "status": status,
        "errors": list(errors),
    }


def rest_line_item(item, currency: str) -> dict:
    return {
        "id": item.id,
        "admin_graphql_api_id": gid("LineItem", item.id),
        "product_id": item.product_id,
        "title": item.title or "",
        "name": item.title or "",
        "quantity": item.quantity,
        "properties": [],
        "requires_shipping": True,
        "taxable": True,
        "gift_card": False,
    }


def rest_order(order, *, customer, store) -> dict:
    """The body of orders/create, orders/updated and orders/cancelled."""
    time_zone = store.iana_timezone
    currency = order.currency or store.currency
    customer_part = None
    if customer is not None:
        customer_part = {
            "id": customer.id,
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "state": _lower(customer.state) or "disabled",
            "tags": ", ".join(customer.tags),
            "admin_graphql_api_id": gid("Customer", customer.id),
        }
    total = money(order.total_minor, currency)
    return {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "name": order.name,
        "order_number": int(order.name.lstrip("#") or 0) if order.name else None,
        "email": order.email or (customer.email if customer is not None else None),
        "created_at": rest_timestamp(order.created_at, time_zone),
        "updated_at": rest_timestamp(order.updated_at or order.created_at, time_zone),
        "processed_at": rest_timestamp(order.processed_at, time_zone),
        "cancelled_at": rest_timestamp(order.cancelled_at, time_zone),
        "cancel_reason": "other" if order.cancelled_at is not None else None,
        "currency": currency,
        "total_price": total,
        "subtotal_price": total,
        "financial_status": _lower(order.financial_status),
        "test": bool(order.test),
        "customer": customer_part,
        "line_items": [rest_line_item(item, currency) for item in order.line_items],
    }


def rest_order_deleted(order_id: int) -> dict:
    return {"id": order_id}


def bulk_operation_finish(operation: dict) -> dict:
    return {
        "admin_graphql_api_id": operation["id"],
        "completed_at": operation.get("completedAt"),
        "created_at": operation.get("createdAt"),
        "error_code": _lower(operation.get("errorCode")),
        "status": _lower(operation["status"]),
        "type": _lower(operation.get("type") or "QUERY"),
    }


def privacy_customer(customer) -> dict:
    return {"id": customer.id, "email": customer.email, "phone": customer.phone}


def customers_redact(*, store, customer) -> dict:
    return {
        "shop_id": store.id,
        "shop_domain": store.domain,
        "customer": privacy_customer(customer),
        "orders_to_redact": [order.id for order in customer.orders],
    }


def customers_data_request(*, store, customer, data_request_id: int) -> dict:
    return {
        "shop_id": store.id,
        "shop_domain": store.domain,
        "customer": privacy_customer(customer),
        "orders_requested": [order.id for order in customer.orders],
        "data_request": {"id": data_request_id},
    }


def shop_redact(*, store) -> dict:
    return {"shop_id": store.id, "shop_domain": store.domain}


def app_uninstalled(store) -> dict[str, Any]:
    """app/uninstalled carries the shop object."""
    return {
        "id": store.id,
        "name": store.name,
        "email": store.email,
        "domain": store.domain,
        "myshopify_domain": store.domain,
        "country_code": store.country,
        "country_name": COUNTRY_NAMES.get(store.country, store.country),
        "currency": store.currency,
        "customer_email": store.email,
        "iana_timezone": store.iana_timezone,
        "plan_name": "basic",
        "plan_display_name": "Basic",
    }
