"""customers/redact erases every trace of a customer's personal data; data_request exports it."""

import json

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.services import audit_chain_verify
from customers import hooks
from customers.ingest import BulkIngest
from customers.models import Customer, CustomerAddress, CustomerDataExport, Order
from customers.privacy import customer_data_request, customer_redact
from customers.tests.test_ingest import customer_line, item_line, order_line
from customers.writer import customer_aggregates_refresh
from tenants.tests.factories import agency_factory, shop_factory
from tenants.webhooks.models import WebhookDelivery
from tests.personal_data_scan import personal_data_hits

pytestmark = pytest.mark.django_db

PERSONAL = {
    "firstName": "Zebulonia",
    "lastName": "Quagmirewitz",
    "note": "Prefers Xanthippe deliveries",
    "tags": ["zebulonia-vip"],
    "defaultEmailAddress": {
        "emailAddress": "Zebulonia.Q+shop@gmail.com",
        "marketingState": "SUBSCRIBED",
    },
    "defaultPhoneNumber": {"phoneNumber": "+49 151 98765432", "marketingState": "SUBSCRIBED"},
}
ADDRESS = {
    "id": "gid://shopify/MailingAddress/771",
    "firstName": "Zebulonia",
    "lastName": "Quagmirewitz",
    "address1": "Xylophonweg 7",
    "city": "Quokkastadt",
    "zip": "QX-4711",
    "countryCodeV2": "DE",
    "phone": "+49 151 98765432",
    "__parentId": "gid://shopify/Customer/77",
}
# Every spelling of the personal data the mirror may hold (raw, lowercased, normalised keys).
MARKERS = [
    "zebulonia",
    "quagmirewitz",
    "xanthippe",
    "15198765432",
    "xylophonweg",
    "quokkastadt",
    "qx-4711",
    "qx4711",
]


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), country_code="DE")


@pytest.fixture
def mirrored(shop):
    lines = [
        customer_line(77, defaultAddress={"id": ADDRESS["id"]}, **PERSONAL),
        ADDRESS,
        customer_line(78),
        order_line(9001, 77, "25.00"),
        item_line(9001, 1, 300, ["shoes"]),
    ]
    BulkIngest(shop_id=shop.id).consume([json.dumps(line) for line in lines])
    customer_aggregates_refresh(shop_id=shop.id)
    # Webhook payloads as the intake stores them: they carry the same personal data.
    for topic, payload in [
        (
            "customers/update",
            {"id": 77, "first_name": "Zebulonia", "email": "zebulonia.q@gmail.com"},
        ),
        ("orders/create", {"id": 9001, "email": "zebulonia.q@gmail.com", "customer": {"id": 77}}),
        (
            "customers/redact",
            {"customer": {"id": 77, "email": "zebulonia.q@gmail.com", "phone": "+4915198765432"}},
        ),
        ("customers/update", {"id": 78, "first_name": "Anna78"}),
    ]:
        WebhookDelivery.all_shops.create(
            shop=shop, webhook_id=f"{topic}-{payload.get('id')}", topic=topic, payload=payload
        )
    return Customer.all_shops.get(shop=shop, shopify_id=77)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="scans PostgreSQL's catalogue")
def test_redaction_leaves_no_personal_data_in_any_text_column(shop, mirrored):
    customer_data_request(shop=shop, shopify_customer_id=77, data_request_id=5)
    assert personal_data_hits(MARKERS)  # the scan finds the data before erasure

    customer_redact(shop=shop, shopify_customer_id=77, orders_to_redact=[9001])

    assert personal_data_hits(MARKERS) == set()
    customer = Customer.all_shops.get(shop=shop, shopify_id=77)
    assert customer.redacted_at is not None
    # Non-personal aggregates stay.
    assert (customer.number_of_orders, customer.amount_spent) == (1, 25)
    assert customer.first_order_at is not None
    assert Order.all_shops.get(shop=shop, shopify_id=9001).total_price == 25
    assert customer.email_marketing_state == "REDACTED"
    # The other customer and its delivery are untouched.
    assert Customer.all_shops.get(shop=shop, shopify_id=78).first_name == "Anna78"
    assert (
        WebhookDelivery.all_shops.get(shop=shop, webhook_id="customers/update-78").payload[
            "first_name"
        ]
        == "Anna78"
    )
    event = AuditEvent.objects.get(event="customer.redacted")
    assert event.data["addresses_deleted"] == 1 and event.data["exports_deleted"] == 1
    assert event.data["webhook_payloads_erased"] == 3
    assert audit_chain_verify(agency_id=shop.agency_id) == (True, None)


def test_a_redacted_customer_is_not_brought_back_by_a_later_sync(shop, mirrored):
    customer_redact(shop=shop, shopify_customer_id=77)
    line = customer_line(77, updated="2030-01-01T00:00:00Z", **PERSONAL)
    BulkIngest(shop_id=shop.id).consume([json.dumps(line)])
    customer = Customer.all_shops.get(shop=shop, shopify_id=77)
    assert (customer.first_name, customer.email, customer.email_normalized) == ("", "", "")


def test_redaction_of_a_customer_never_mirrored_keeps_a_tombstone(shop):
    customer_redact(shop=shop, shopify_customer_id=4242)
    BulkIngest(shop_id=shop.id).consume([json.dumps(customer_line(4242, **PERSONAL))])
    customer = Customer.all_shops.get(shop=shop, shopify_id=4242)
    assert customer.redacted_at is not None and customer.first_name == ""


def test_redaction_runs_registered_erasers_and_a_failing_one_aborts_everything(shop, mirrored):
    erased = []

    def eraser(*, shop_id, customer_ids):
        erased.append((shop_id, customer_ids))

    def broken(*, shop_id, customer_ids):
        raise RuntimeError("match explanations table locked")

    hooks.customer_eraser(eraser)
    hooks.customer_eraser(broken)
    try:
        with pytest.raises(RuntimeError):
            customer_redact(shop=shop, shopify_customer_id=77)
        assert Customer.all_shops.get(shop=shop, shopify_id=77).first_name == "Zebulonia"
        assert CustomerAddress.all_shops.filter(shop=shop, customer=mirrored).count() == 1
        hooks._ERASERS.remove(broken)
        customer_redact(shop=shop, shopify_customer_id=77)
    finally:
        for func in (eraser, broken):
            if func in hooks._ERASERS:
                hooks._ERASERS.remove(func)
    assert erased[-1] == (shop.id, [mirrored.id])
    assert Customer.all_shops.get(shop=shop, shopify_id=77).first_name == ""


def test_data_request_exports_everything_the_mirror_holds(shop, mirrored):
    export = customer_data_request(
        shop=shop, shopify_customer_id=77, orders_requested=[9001], data_request_id=9999
    )
    payload = CustomerDataExport.all_shops.get(pk=export.pk).payload
    assert payload["customer"]["first_name"] == "Zebulonia"
    assert payload["customer"]["email"] == "Zebulonia.Q+shop@gmail.com"
    assert payload["customer"]["tags"] == ["zebulonia-vip"]
    assert [a["address1"] for a in payload["addresses"]] == ["Xylophonweg 7"]
    assert [o["shopify_id"] for o in payload["orders"]] == [9001]
    assert payload["orders"][0]["product_tags"] == ["shoes"]
    event = AuditEvent.objects.get(event="customer.data_requested")
    assert event.target_id == str(export.id)
    assert "Zebulonia" not in json.dumps(event.data)  # ids only in the audit log


def test_data_request_for_an_unknown_customer_is_recorded_with_an_empty_export(shop):
    export = customer_data_request(shop=shop, shopify_customer_id=5555)
    assert export.payload["customer"] is None and export.payload["orders"] == []
    assert AuditEvent.objects.filter(event="customer.data_requested").count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="scans PostgreSQL's catalogue")
def test_a_delivery_arriving_after_the_redaction_keeps_no_personal_data(shop, mirrored):
    from tenants.webhooks.services import webhook_delivery_process

    customer_redact(shop=shop, shopify_customer_id=77, orders_to_redact=[9001])
    assert personal_data_hits(MARKERS) == set()
    late = WebhookDelivery.all_shops.create(
        shop=shop,
        webhook_id="late-consent-77",
        topic="customers_email_marketing_consent/update",
        payload={
            "customer_id": 77,
            "email_address": "zebulonia.q@gmail.com",
            "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"},
        },
    )
    assert personal_data_hits(MARKERS)  # stored as it arrived

    assert webhook_delivery_process(delivery_id=late.pk) == WebhookDelivery.Status.PROCESSED

    assert personal_data_hits(MARKERS) == set()
    assert WebhookDelivery.all_shops.get(pk=late.pk).payload == {"redacted": True}
    customer = Customer.all_shops.get(shop=shop, shopify_id=77)
    assert customer.email_marketing_state == "REDACTED"  # the late consent changed nothing
    # A late delivery for a customer who was not erased keeps its payload.
    other = WebhookDelivery.all_shops.create(
        shop=shop,
        webhook_id="late-consent-78",
        topic="customers_email_marketing_consent/update",
        payload={"customer_id": 78, "email_marketing_consent": {"state": "subscribed"}},
    )
    webhook_delivery_process(delivery_id=other.pk)
    assert WebhookDelivery.all_shops.get(pk=other.pk).payload["customer_id"] == 78
