"""Handlers for the app's lifecycle topics and Shopify's three mandatory privacy topics.

Customer erasure and data export belong to the customer mirror (`customers.privacy`); these
handlers hand the request over. A failure is recorded on the delivery and retried.
"""

from tenants.shop_lifecycle import shop_redact, shop_uninstall
from tenants.webhooks.routing import webhook_handler
from tenants.webhooks.services import DeliveryUnusable


@webhook_handler("app/uninstalled")
def apply_app_uninstalled(*, shop, payload, delivery) -> None:
    shop_uninstall(shop=shop)


@webhook_handler("shop/redact")
def apply_shop_redact(*, shop, payload, delivery) -> None:
    shop_redact(shop=shop)


def _customer_id(payload: dict) -> int:
    try:
        return int(payload["customer"]["id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DeliveryUnusable("payload has no customer.id") from exc


@webhook_handler("customers/redact")
def apply_customers_redact(*, shop, payload, delivery) -> None:
    # Imported here: the mirror builds on tenants, not the other way round.
    from customers.privacy import customer_redact

    customer_redact(
        shop=shop,
        shopify_customer_id=_customer_id(payload),
        orders_to_redact=[int(order_id) for order_id in payload.get("orders_to_redact") or []],
        delivery=delivery,
    )


@webhook_handler("customers/data_request")
def apply_customers_data_request(*, shop, payload, delivery) -> None:
    from customers.privacy import customer_data_request

    customer_data_request(
        shop=shop,
        shopify_customer_id=_customer_id(payload),
        orders_requested=[int(order_id) for order_id in payload.get("orders_requested") or []],
        data_request_id=(payload.get("data_request") or {}).get("id"),
        delivery=delivery,
    )
