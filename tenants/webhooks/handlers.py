"""Handlers for the app's lifecycle topics and Shopify's three mandatory privacy topics.

Customer erasure and data export belong to the customer mirror (`customers.privacy`); these
handlers hand the request over. Until the mirror provides the function, the delivery fails with
a clear error, is retried with backoff and stays visible in the admin, so no request is lost.
"""

from importlib import import_module

from tenants.shop_lifecycle import shop_redact, shop_uninstall
from tenants.webhooks.routing import webhook_handler

CUSTOMER_PRIVACY_MODULE = "customers.privacy"


@webhook_handler("app/uninstalled")
def apply_app_uninstalled(*, shop, payload, delivery) -> None:
    shop_uninstall(shop=shop)


@webhook_handler("shop/redact")
def apply_shop_redact(*, shop, payload, delivery) -> None:
    shop_redact(shop=shop)


def _customer_privacy_service(name: str):
    try:
        return getattr(import_module(CUSTOMER_PRIVACY_MODULE), name)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(
            f"{CUSTOMER_PRIVACY_MODULE}.{name} is not available; the customer mirror provides it. "
            "The delivery is kept and retried."
        ) from exc


def _customer_id(payload: dict) -> int:
    try:
        return int(payload["customer"]["id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("payload has no customer.id") from exc


@webhook_handler("customers/redact")
def apply_customers_redact(*, shop, payload, delivery) -> None:
    """Erase one customer's personal data. Signature of the mirror's service:
    `customer_redact(*, shop, shopify_customer_id: int, orders_to_redact: list[int], delivery)`."""
    redact = _customer_privacy_service("customer_redact")
    redact(
        shop=shop,
        shopify_customer_id=_customer_id(payload),
        orders_to_redact=[int(order_id) for order_id in payload.get("orders_to_redact") or []],
        delivery=delivery,
    )


@webhook_handler("customers/data_request")
def apply_customers_data_request(*, shop, payload, delivery) -> None:
    """Export what the mirror holds about one customer. Signature of the mirror's service:
    `customer_data_request(*, shop, shopify_customer_id: int, orders_requested: list[int],
    data_request_id: int | None, delivery)`."""
    export = _customer_privacy_service("customer_data_request")
    export(
        shop=shop,
        shopify_customer_id=_customer_id(payload),
        orders_requested=[int(order_id) for order_id in payload.get("orders_requested") or []],
        data_request_id=(payload.get("data_request") or {}).get("id"),
        delivery=delivery,
    )
