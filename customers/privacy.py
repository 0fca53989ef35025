"""Shopify's mandatory privacy requests for one customer: erase (customers/redact) and export
(customers/data_request). Called by the webhook intake (tenants.webhooks.handlers).

Erasure is immediate and all or nothing: the customer's personal fields, addresses, matching keys,
data exports, the raw webhook payloads that named them, and whatever other apps derived
(customers.hooks.customer_erasers) go in one transaction. Non-personal aggregates (order count,
amount spent, order dates, product ids) stay, so reports keep adding up. The row itself stays
with `redacted_at`, which also stops any later sync or webhook from bringing the data back.
"""

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.forms.models import model_to_dict
from django.utils import timezone

from audit.services import SHOPIFY, audit_event_record
from customers import hooks
from customers.mapping import customer_gid
from customers.models import AccountInvite, Customer, CustomerAddress, CustomerDataExport, Order
from customers.partitions import mirror_writes_wait
from tenants.models import Shop

ERASED_TEXT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "note",
    "tags_normalized",
    "default_address_city",
    "default_address_province_code",
    "default_address_country_code",
    "default_address_zip",
    "email_normalized",
    "phone_e164",
    "first_name_key",
    "last_name_key",
    "postcode_normalized",
)
INTERNAL_FIELDS = {"shop", "last_seen_sync_run_id", "mirrored_at"}


def _webhook_payloads_naming(shop: Shop, shopify_id: int, order_ids: list[int]):
    """Stored webhook deliveries whose payload names this customer or one of these orders."""
    from tenants.webhooks.models import WebhookDelivery

    gid = customer_gid(shopify_id)
    names = (
        Q(payload__customer__id=shopify_id)
        | Q(payload__customer_id=shopify_id)
        | Q(payload__customerId=gid)
        | Q(payload__admin_graphql_api_id=gid)
        | Q(payload__admin_graphql_api_customer_kept_id=gid)
        | Q(payload__admin_graphql_api_customer_deleted_id=gid)
        | Q(topic__startswith="customers", payload__id=shopify_id)
    )
    if order_ids:
        names |= Q(topic__startswith="orders", payload__id__in=order_ids)
    return WebhookDelivery.all_shops.filter(shop=shop).filter(names)


def delivery_payload_erase_if_redacted(*, shop: Shop, delivery, shopify_customer_ids) -> bool:
    """A delivery that arrives after its customer was erased (a retried customers/update, a late
    order update) changes nothing in the mirror, but its stored payload still carries the
    customer's personal data: replace it, as the erasure did for the deliveries it found."""
    from tenants.webhooks.models import WebhookDelivery

    ids = {i for i in shopify_customer_ids if i}
    if (
        not ids
        or not Customer.all_shops.filter(
            shop=shop, shopify_id__in=ids, redacted_at__isnull=False
        ).exists()
    ):
        return False
    WebhookDelivery.all_shops.filter(pk=delivery.pk).update(payload={"redacted": True})
    delivery.payload = {"redacted": True}
    return True


@transaction.atomic
def customer_redact(
    *,
    shop: Shop,
    shopify_customer_id: int,
    orders_to_redact: list[int] | None = None,
    delivery=None,
    actor: str = SHOPIFY,
) -> Customer:
    """Erase one customer's personal data from everything Clientele holds for this shop."""
    mirror_writes_wait(shop_id=shop.id)
    customer, _created = Customer.all_shops.select_for_update().get_or_create(
        shop=shop,
        shopify_id=shopify_customer_id,
        defaults={"gid": customer_gid(shopify_customer_id)},
    )
    order_ids = sorted(
        set(orders_to_redact or ())
        | set(
            Order.all_shops.filter(shop=shop, customer=customer).values_list(
                "shopify_id", flat=True
            )
        )
    )
    for name in ERASED_TEXT_FIELDS:
        setattr(customer, name, "")
    customer.tags = []
    for state in ("email_marketing_state", "sms_marketing_state"):
        if getattr(customer, state):
            setattr(customer, state, "REDACTED")
    now = timezone.now()
    customer.redacted_at = customer.redacted_at or now
    customer.mirrored_at = now
    customer.save()
    addresses, _ = CustomerAddress.all_shops.filter(shop=shop, customer=customer).delete()
    exports, _ = CustomerDataExport.all_shops.filter(
        shop=shop, customer_shopify_id=shopify_customer_id
    ).delete()
    payloads = _webhook_payloads_naming(shop, shopify_customer_id, order_ids).update(
        payload={"redacted": True}
    )
    hooks.customers_erase_derived(shop_id=shop.id, customer_ids=[customer.id])
    audit_event_record(
        agency_id=shop.agency_id,
        shop_id=shop.id,
        event="customer.redacted",
        actor=actor,
        target_type="customer",
        target_id=customer.id,
        data={
            "shopify_customer_id": shopify_customer_id,
            "fields": [*ERASED_TEXT_FIELDS, "tags"],
            "addresses_deleted": addresses,
            "exports_deleted": exports,
            "webhook_payloads_erased": payloads,
            "orders_kept": len(order_ids),
            "delivery_id": getattr(delivery, "pk", None),
        },
    )
    return customer


def customer_export_build(
    *, shop: Shop, customer: Customer | None, orders_requested: list[int]
) -> dict[str, Any]:
    if customer is None:
        return {"customer": None, "addresses": [], "orders": [], "account_invites": []}
    fields = [f.name for f in Customer._meta.concrete_fields if f.name not in INTERNAL_FIELDS]
    orders = Order.all_shops.filter(shop=shop).filter(
        Q(customer=customer) | Q(shopify_id__in=orders_requested)
    )
    return {
        "customer": _jsonable(model_to_dict(customer, fields=fields)),
        "addresses": [
            _jsonable(model_to_dict(a, exclude=["shop", "customer"]))
            for a in CustomerAddress.all_shops.filter(shop=shop, customer=customer).order_by("id")
        ],
        "orders": [
            _jsonable(model_to_dict(o, exclude=["shop", "last_seen_sync_run_id"]))
            for o in orders.order_by("processed_at", "id")
        ],
        "account_invites": [
            {
                "batch_id": i.batch_id,
                "status": i.status,
                "skip_reason": i.skip_reason,
                "sent_at": i.sent_at,
            }
            for i in AccountInvite.all_shops.filter(shop=shop, customer=customer).order_by("id")
        ],
        **hooks.customer_export_sections(shop_id=shop.id, customer_id=customer.id),
    }


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


@transaction.atomic
def customer_data_request(
    *,
    shop: Shop,
    shopify_customer_id: int,
    orders_requested: list[int] | None = None,
    data_request_id: int | None = None,
    delivery=None,
    actor: str = SHOPIFY,
) -> CustomerDataExport:
    """Produce and keep the JSON export of everything the mirror holds about one customer."""
    customer = Customer.all_shops.filter(shop=shop, shopify_id=shopify_customer_id).first()
    if delivery is not None and customer is not None and customer.redacted_at is not None:
        # A request for an erased customer: its payload (their email, phone) is not kept.
        delivery_payload_erase_if_redacted(
            shop=shop, delivery=delivery, shopify_customer_ids=[shopify_customer_id]
        )
    requested = sorted(int(o) for o in orders_requested or ())
    payload = {
        "shop": shop.domain,
        "shopify_customer_id": shopify_customer_id,
        "data_request_id": data_request_id,
        "generated_at": timezone.now().isoformat(),
        **customer_export_build(shop=shop, customer=customer, orders_requested=requested),
    }
    export = CustomerDataExport.all_shops.create(
        shop=shop,
        customer=customer,
        customer_shopify_id=shopify_customer_id,
        data_request_id=data_request_id,
        orders_requested=requested,
        payload=payload,
    )
    audit_event_record(
        agency_id=shop.agency_id,
        shop_id=shop.id,
        event="customer.data_requested",
        actor=actor,
        target_type="customer_data_export",
        target_id=export.id,
        data={
            "shopify_customer_id": shopify_customer_id,
            "customer_id": customer.id if customer else None,
            "data_request_id": data_request_id,
            "orders": len(payload["orders"]),
            "delivery_id": getattr(delivery, "pk", None),
        },
    )
    return export
