"""The suite's guard (customers/testing.py) catches what it is there for: writes and row locks
on the mirror that do not name their shop (directly, through Django's save(), or in a trigger),
and writes into a default partition made without waiting for first syncs."""

import importlib
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from customers import testing, writer
from customers.incremental import customers_apply_graphql
from customers.mapping import customer_from_graphql
from customers.models import Customer, Order
from customers.partitions import mirror_writes_wait
from customers.tests.test_ingest import customer_line
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL partitions"),
]


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), country_code="DE")


@pytest.fixture
def customer(shop):
    with transaction.atomic():
        customers_apply_graphql(shop=shop, nodes=[customer_line(7)])
    return Customer.all_shops.get(shop=shop, shopify_id=7)


def test_a_write_by_id_alone_is_caught_and_one_naming_its_shop_is_not(shop, customer):
    with testing.guarded(strict=True) as found:
        Customer.all_shops.filter(shop=shop, pk=customer.pk).update(note="with its shop")
        Customer.all_shops.filter(shop=shop, pk=customer.pk).select_for_update().first()
    assert found == []
    with testing.guarded(
        strict=True
    ) as found:  # (its locks stay until the test's transaction ends)
        Customer.all_shops.filter(pk=customer.pk).update(note="by id")
        Customer.all_shops.filter(pk=customer.pk).select_for_update().first()
    assert len(found) == 2 and all(f.startswith("touches") for f in found), found
    assert "customers_customer_s0" in found[0] and "customers_customer_default" in found[0]


def test_save_of_a_mirror_row_names_its_shop(customer):
    """Django's UPDATE of an instance filters on the primary key alone; the mirror models add
    their shop (customers.models.ShopPartitioned)."""
    with testing.guarded(strict=True) as found:
        customer.note = "saved"
        customer.save(update_fields=["note"])
    assert found == []
    assert Customer.all_shops.get(pk=customer.pk).note == "saved"


def test_a_trigger_that_does_not_name_its_shop_is_caught(shop, customer):
    """The statement's own plan names one partition; what it fires locks the sentinel's."""
    before_0012 = importlib.import_module("segments.migrations.0009_order_products")
    with connection.cursor() as cursor:  # the order-product trigger as it was (rolled back)
        cursor.execute(
            next(
                s for s in before_0012.CREATE if "FUNCTION segments_order_product_deleted" in s
            ).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
        )
    with transaction.atomic(), testing.guarded(strict=True) as found:
        Order.all_shops.filter(shop=shop, shopify_id=1).delete()
    assert len(found) == 1 and found[0].startswith("locked every partition"), found


def test_order_writes_lock_one_order_product_partition(shop, customer):
    """The order-product triggers (segments 0012) delete per shop, by value."""
    row = {
        "shopify_id": 70,
        "customer_shopify_id": 7,
        "name": "#70",
        "updated_at_shopify": datetime(2024, 1, 1, tzinfo=UTC),
        "product_ids": [5, 6],
        "product_tags": [],
        "product_tags_normalized": "",
    }
    with transaction.atomic():
        writer.orders_upsert(shop_id=shop.id, rows=[row])
    with transaction.atomic(), testing.guarded(strict=True) as found:
        writer.orders_upsert(
            shop_id=shop.id,
            rows=[
                {**row, "product_ids": [5], "updated_at_shopify": datetime(2025, 1, 1, tzinfo=UTC)}
            ],
        )
        Order.all_shops.filter(shop=shop, shopify_id=70).delete()
    assert found == []


def test_writing_a_default_partition_without_waiting_is_caught(shop):
    """Project code that writes a never-synced shop's rows must call mirror_writes_wait first
    in its transaction (a first sync's attach would otherwise fail it or lose its write)."""
    row, _ = customer_from_graphql(customer_line(8), shop_country="DE")
    with transaction.atomic(), testing.guarded(strict=True) as found:
        writer.customers_upsert(shop_id=shop.id, rows=[row])
    assert len(found) == 1 and found[0].startswith("wrote a default partition"), found
    with transaction.atomic(), testing.guarded(strict=True) as found:
        mirror_writes_wait(shop_id=shop.id)
        writer.customers_upsert(shop_id=shop.id, rows=[{**row, "note": "waited"}])
    assert found == []
