"""The scheduled delta: customers changed after the high-water mark are re-read from Shopify."""

from datetime import UTC, datetime

import pytest

from customers.models import Customer, SyncRun
from customers.sync import shop_delta_sync
from customers.tests.sandbox_compare import mirror_differences, shop_for

pytestmark = pytest.mark.django_db


def test_delta_heals_missed_webhooks_and_advances_the_high_water_mark(sandbox_store):
    shop = shop_for(sandbox_store, country_code="DE")
    # An earlier full sync of an empty store set the mark.
    SyncRun.all_shops.create(
        shop=shop, kind="full", status="succeeded", high_water_mark=datetime(2020, 1, 1, tzinfo=UTC)
    )
    ada = sandbox_store.create_customer(
        {"firstName": "Ada", "email": "ada@example.com", "tags": ["vip"]}
    )
    sandbox_store.create_customer({"firstName": "Bob", "email": "bob@example.com"})

    first = shop_delta_sync(shop_id=shop.id)
    assert first.status == SyncRun.Status.SUCCEEDED and first.records_created == 2
    assert mirror_differences(shop, sandbox_store.store) == []

    sandbox_store.update_customer(ada["id"], {"lastName": "Lovelace"})
    second = shop_delta_sync(shop_id=shop.id)
    assert second.high_water_mark >= first.high_water_mark
    assert second.records_updated >= 1
    assert Customer.all_shops.get(shop=shop, gid=ada["id"]).last_name == "Lovelace"
    assert mirror_differences(shop, sandbox_store.store) == []


def test_delta_heals_missed_order_webhooks(sandbox_store):
    """orders/create, orders/updated and orders/cancelled all lost: the delta re-reads the
    orders changed since the mark, with their products, status and owner."""
    from customers.models import Order

    shop = shop_for(sandbox_store, country_code="DE")
    SyncRun.all_shops.create(
        shop=shop, kind="full", status="succeeded", high_water_mark=datetime(2020, 1, 1, tzinfo=UTC)
    )
    ada = sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
    assert shop_delta_sync(shop_id=shop.id).status == SyncRun.Status.SUCCEEDED
    line = {"quantity": 1, "productId": "gid://shopify/Product/300", "productTags": ["shoes"]}
    kept = sandbox_store.place_order(ada["id"], totalPrice="25.00", lineItems=[line])
    dropped = sandbox_store.place_order(ada["id"], totalPrice="9.00")
    sandbox_store.cancel_order(int(dropped["id"].rsplit("/", 1)[1]))
    assert not Order.all_shops.filter(shop=shop).exists()  # no webhook reached the mirror

    run = shop_delta_sync(shop_id=shop.id)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert mirror_differences(shop, sandbox_store.store) == []
    order = Order.all_shops.get(shop=shop, shopify_id=int(kept["id"].rsplit("/", 1)[1]))
    assert order.product_tags == ["shoes"] and order.customer.gid == ada["id"]
    cancelled = Order.all_shops.get(shop=shop, shopify_id=int(dropped["id"].rsplit("/", 1)[1]))
    assert cancelled.cancelled_at is not None
