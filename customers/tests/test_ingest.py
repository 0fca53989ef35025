"""Bulk JSONL ingest: batching, idempotence, the not-backwards guard, crash and resume."""

import json
from decimal import Decimal

import pytest
from django.db import models

from customers.ingest import BulkIngest
from customers.models import Customer, CustomerAddress, Order
from customers.writer import customer_aggregates_refresh
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db


def customer_line(n: int, *, updated="2024-11-01T12:00:00Z", orders=None, **extra) -> dict:
    line = {
        "id": f"gid://shopify/Customer/{n}",
        "firstName": f"Anna{n}",
        "lastName": "Müller",
        "defaultEmailAddress": {
            "emailAddress": f"Anna.Mueller+{n}@Gmail.com",
            "marketingState": "SUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN",
            "marketingUpdatedAt": "2024-03-01T10:00:00Z",
        },
        "defaultPhoneNumber": {"phoneNumber": "0151 12345678", "marketingState": "NOT_SUBSCRIBED"},
        "state": "ENABLED",
        "tags": ["VIP", "newsletter"],
        "note": "",
        "verifiedEmail": True,
        "taxExempt": False,
        "locale": "de",
        "createdAt": "2022-05-01T09:00:00Z",
        "updatedAt": updated,
        "defaultAddress": {"id": f"gid://shopify/MailingAddress/{n}1"},
    }
    if orders is not None:
        line["numberOfOrders"] = str(orders[0])
        line["amountSpent"] = {"amount": orders[1], "currencyCode": "EUR"}
    line.update(extra)
    return line


def address_line(n: int, k: int) -> dict:
    return {
        "id": f"gid://shopify/MailingAddress/{n}{k}",
        "city": "Berlin",
        "provinceCode": "BE",
        "countryCodeV2": "DE",
        "zip": "10115",
        "address1": "Hauptstraße 5",
        "__parentId": f"gid://shopify/Customer/{n}",
    }


def order_line(n: int, customer: int, total: str, *, cancelled=None, day=2) -> dict:
    return {
        "id": f"gid://shopify/Order/{n}",
        "name": f"#{n}",
        "createdAt": f"2023-01-{day:02d}T10:00:00Z",
        "processedAt": f"2023-01-{day:02d}T10:00:00Z",
        "updatedAt": f"2023-01-{day:02d}T10:00:00Z",
        "cancelledAt": cancelled,
        "displayFinancialStatus": "PAID",
        "customer": {"id": f"gid://shopify/Customer/{customer}"},
        "currentTotalPriceSet": {"shopMoney": {"amount": total, "currencyCode": "EUR"}},
    }


def item_line(order: int, k: int, product: int, tags) -> dict:
    return {
        "id": f"gid://shopify/LineItem/{order}{k}",
        "quantity": 1,
        "product": {"id": f"gid://shopify/Product/{product}", "tags": tags},
        "__parentId": f"gid://shopify/Order/{order}",
    }


def jsonl(*objects) -> list[bytes]:
    return [json.dumps(o).encode() for o in objects]


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), country_code="DE")


def export(count: int) -> list[bytes]:
    objects = []
    for n in range(1, count + 1):
        objects += [customer_line(n), address_line(n, 1), address_line(n, 2)]
    return jsonl(*objects)


def test_customers_with_addresses_land_with_keys(shop):
    stats = BulkIngest(shop_id=shop.id, batch_size=2).consume(export(5))
    assert (stats.read, stats.created, stats.updated) == (5, 5, 0)
    customer = Customer.all_shops.get(shop=shop, shopify_id=3)
    assert customer.gid == "gid://shopify/Customer/3"
    assert customer.email_normalized == "annamueller@gmail.com"
    assert customer.phone_e164 == "+4915112345678"  # region from the default address
    assert customer.tags == ["VIP", "newsletter"]
    assert customer.tags_normalized == ",newsletter,vip,"
    assert customer.default_address_city == "Berlin"
    assert customer.postcode_normalized == "10115"
    assert customer.email_marketing_state == "SUBSCRIBED"
    addresses = CustomerAddress.all_shops.filter(customer=customer).order_by("shopify_id")
    assert [(a.shopify_id, a.is_default) for a in addresses] == [(31, True), (32, False)]


def test_rerun_is_idempotent_and_never_moves_backwards(shop):
    BulkIngest(shop_id=shop.id).consume(export(3))
    newer = customer_line(2, updated="2025-01-01T00:00:00Z", firstName="Newer")
    BulkIngest(shop_id=shop.id).consume(jsonl(newer, address_line(2, 1)))
    stats = BulkIngest(shop_id=shop.id).consume(export(3))
    assert (stats.created, stats.updated, stats.skipped) == (0, 2, 1)
    assert Customer.all_shops.get(shop=shop, shopify_id=2).first_name == "Newer"
    assert Customer.all_shops.filter(shop=shop).count() == 3
    # The newer version has one address; the older export must not bring the second back.
    assert CustomerAddress.all_shops.filter(shop=shop).count() == 5


def test_orders_with_line_items_and_derived_aggregates(shop):
    lines = jsonl(
        customer_line(1),
        customer_line(2, orders=(7, "700.00")),
        order_line(10, 1, "59.90", day=2),
        item_line(10, 1, 300, ["shoes"]),
        item_line(10, 2, 301, ["socks", "shoes"]),
        order_line(11, 1, "40.10", day=5),
        order_line(12, 1, "99.00", cancelled="2023-01-09T00:00:00Z", day=9),
        order_line(13, 2, "10.00", day=3),
        order_line(14, 999, "1.00"),  # a customer the mirror does not hold
    )
    BulkIngest(shop_id=shop.id, batch_size=3).consume(lines)
    customer_aggregates_refresh(shop_id=shop.id)
    order = Order.all_shops.get(shop=shop, shopify_id=10)
    assert order.product_ids == [300, 301]
    assert order.product_tags == ["shoes", "socks"]
    assert order.total_price == Decimal("59.90")
    derived = Customer.all_shops.get(shop=shop, shopify_id=1)
    assert derived.number_of_orders == 2
    assert derived.amount_spent == Decimal("100.00")
    assert derived.amount_spent_currency == "EUR"
    assert derived.first_order_at.day == 2 and derived.last_order_at.day == 5
    from_shopify = Customer.all_shops.get(shop=shop, shopify_id=2)
    assert (from_shopify.number_of_orders, from_shopify.amount_spent) == (7, Decimal("700.00"))
    assert from_shopify.first_order_at.day == 3
    assert Order.all_shops.get(shop=shop, shopify_id=14).customer_id is None


class Crash(Exception):
    pass


def crashing(lines, at: int):
    for index, line in enumerate(lines, start=1):
        if index == at:
            raise Crash
        yield line


def test_crash_mid_stream_keeps_the_mirror_and_resume_completes(shop):
    lines = export(10)  # 30 lines
    checkpoints = []

    def on_flush(lines_done, batch):
        checkpoints.append(lines_done)

    with pytest.raises(Crash):
        BulkIngest(shop_id=shop.id, batch_size=3, on_flush=on_flush).consume(crashing(lines, 20))
    done = checkpoints[-1]
    assert done == 18  # six customers (three lines each) committed, the seventh rolled back
    assert Customer.all_shops.filter(shop=shop).count() == 6
    stats = BulkIngest(shop_id=shop.id, batch_size=3).consume(lines, skip=done)
    assert (stats.read, stats.created) == (4, 4)
    assert Customer.all_shops.filter(shop=shop).count() == 10
    assert CustomerAddress.all_shops.filter(shop=shop).count() == 20


def test_children_after_their_parents_batch_are_not_lost(shop):
    lines = jsonl(
        customer_line(1),
        order_line(10, 1, "5.00"),
        customer_line(2),
        address_line(1, 1),
        item_line(10, 1, 300, ["late"]),
    )
    BulkIngest(shop_id=shop.id, batch_size=1).consume(lines)
    assert CustomerAddress.all_shops.filter(shop=shop, customer__shopify_id=1).count() == 1
    assert Order.all_shops.get(shop=shop, shopify_id=10).product_tags == ["late"]


def test_unknown_top_level_object_is_refused(shop):
    with pytest.raises(ValueError, match="unexpected top-level object"):
        BulkIngest(shop_id=shop.id).consume(jsonl({"id": "gid://shopify/Product/1"}))


def test_large_batches_take_the_copy_path_with_the_same_result(shop):
    lines = export(450)
    stats = BulkIngest(shop_id=shop.id, batch_size=300).consume(lines)
    assert (stats.read, stats.created) == (450, 450)
    again = BulkIngest(shop_id=shop.id, batch_size=300).consume(lines)
    assert (again.created, again.updated) == (0, 450)
    assert CustomerAddress.all_shops.filter(shop=shop).count() == 900
    customer = Customer.all_shops.get(shop=shop, shopify_id=401)
    assert customer.tags == ["VIP", "newsletter"] and customer.merge_blockers == []
    assert customer.email_marketing_updated_at.year == 2024


def test_orders_in_copy_batches_are_linked_to_their_customers_in_sql(shop):
    customers = [customer_line(n) for n in range(1, 251)]
    orders = [order_line(5000 + n, n, "1.00") for n in range(1, 251)] + [
        order_line(9999, 4242, "1.00")
    ]
    BulkIngest(shop_id=shop.id, batch_size=1000).consume(jsonl(*customers, *orders))
    linked = Order.all_shops.filter(shop=shop, customer__shopify_id=models.F("customer_shopify_id"))
    assert linked.count() == 250
    assert Order.all_shops.get(shop=shop, shopify_id=9999).customer_id is None
