"""segments.OrderProduct (PostgreSQL): the triggers on customers_order keep it equal to what
the live orders say, whatever wrote them: ORM saves, bulk updates and deletes, the full sync's
set-based apply (with its tombstones), a second sync that changes nothing but bookkeeping."""

import pytest
from django.db import connection
from django.utils import timezone

from customers.models import Order
from customers.partitions import partition_name
from customers.sync import shop_full_sync
from customers.tests.test_sync import store
from segments.models import OrderProduct
from segments.tests.query.mirror_data import insert_customer
from tenants.shop_erasure import shop_rows_delete
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the table and its triggers are PostgreSQL's"
    ),
]


def expected(shop) -> list[tuple]:
    """The rows the live orders imply, computed in Python from the orders themselves."""
    rows = []
    for order in Order.all_shops.filter(shop=shop):
        live = order.deleted_at is None and order.cancelled_at is None
        if not live or order.customer_id is None or not isinstance(order.product_ids, list):
            continue
        for product in order.product_ids:
            if str(product).isdigit():
                rows.append(
                    (order.shop_id, int(product), order.customer_id, order.processed_at, order.pk)
                )
    return sorted(rows)


def stored(shop) -> list[tuple]:
    return sorted(
        OrderProduct.objects.filter(shop_id=shop.pk).values_list(
            "shop_id", "product_id", "customer_id", "processed_at", "order_id"
        )
    )


def order(shop, customer, number, products, **fields):
    return Order.all_shops.create(
        shop=shop,
        shopify_id=number,
        customer=customer,
        customer_shopify_id=customer.shopify_id if customer else None,
        name=f"#{number}",
        processed_at=timezone.now(),
        total_price=10,
        product_ids=products,
        **fields,
    )


def test_every_kind_of_order_write_keeps_the_table_exact():
    shop = shop_factory(agency=agency_factory())
    other = shop_factory(agency=agency_factory())
    alice, bob = insert_customer(shop, {}), insert_customer(shop, {})
    elsewhere = order(other, insert_customer(other, {}), 1, [7])
    live = order(shop, alice, 1, [101, 202])
    cancelled = order(shop, alice, 2, [303], cancelled_at=timezone.now())
    order(shop, bob, 3, [404], deleted_at=timezone.now())
    order(shop, None, 4, [505])  # no customer (yet)
    odd = order(shop, bob, 5, ["x", 606, "7a"])  # only integer ids count
    order(shop, bob, 6, {"not": "a list"})
    assert stored(shop) == expected(shop)
    assert len(stored(shop)) == 3  # 101, 202, 606

    live.product_ids = [202, 707]
    live.save()
    assert stored(shop) == expected(shop)
    Order.all_shops.filter(pk=cancelled.pk).update(cancelled_at=None)  # un-cancelled
    assert stored(shop) == expected(shop)
    Order.all_shops.filter(pk=odd.pk).update(customer=alice)  # moved to another customer
    Order.all_shops.filter(shop=shop, shopify_id=4).update(customer=bob)  # linked late
    assert stored(shop) == expected(shop)
    Order.all_shops.filter(shop=shop).update(processed_at=timezone.now())  # many at once
    assert stored(shop) == expected(shop)
    Order.all_shops.filter(shop=shop, customer=alice).update(deleted_at=timezone.now())
    assert stored(shop) == expected(shop)
    Order.all_shops.filter(shop=shop, shopify_id__in=[3, 4]).delete()
    assert stored(shop) == expected(shop)
    assert stored(other) == expected(other) == [(other.pk, 7, elsewhere.customer_id,
                                                 elsewhere.processed_at, elsewhere.pk)]  # fmt: skip
    # shop/redact's set-based erasure deletes the shop's orders: their rows go, not others'.
    order(shop, bob, 9, [909])
    shop_rows_delete(shop_id=other.pk)
    assert stored(other) == [] and stored(shop) == expected(shop) != []


def test_the_full_sync_apply_keeps_the_table_exact(tmp_path):
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    shop_full_sync(shop_id=shop.id, source=store(tmp_path, 6, tag="a"))
    assert len(stored(shop)) == 6 and stored(shop) == expected(shop)
    # The same export again: only bookkeeping changes, nothing is rewritten here.
    before = stored(shop)
    shop_full_sync(shop_id=shop.id, source=store(tmp_path, 6, tag="b"))
    assert stored(shop) == before == expected(shop)
    # Customers and their orders missing from the next export are tombstoned: their rows go.
    shop_full_sync(shop_id=shop.id, source=store(tmp_path, 4, tag="c"))
    assert len(stored(shop)) == 4 and stored(shop) == expected(shop)


@pytest.mark.parametrize(
    "value",
    ["", "0", "7", "123456789012345678", "1234567890123456789", "12a", "a12", " 12", "12 ",
     "-1", "+1", "1.5", "1e3", "\u0661\u0662", "\uff11\uff12", "12\n", "\n12", "0x1F", "00"],
)  # fmt: skip
def test_the_build_keeps_the_product_ids_the_triggers_keep(value):
    """segments.order_products.EXPAND (the first sync's build) tests a product id without the
    triggers' regular expression: both keep the same texts."""
    from segments.order_products import PRODUCT_ID_REGEX, PRODUCT_ID_TEST

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {PRODUCT_ID_TEST.format(v='%(v)s::text')},"
            f" {PRODUCT_ID_REGEX.format(v='%(v)s::text')}",
            {"v": value},
        )
        build, trigger = cursor.fetchone()
    assert build == trigger
    assert build == (value.isascii() and value.isdigit() and len(value) <= 18)


def _rows_scanned(shop) -> int:
    """Rows of the shop's order-product partition read by sequential scans (rescans in a
    loop included) in this transaction."""
    name = partition_name("segments_order_product", shop.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq_tup_read FROM pg_stat_xact_user_tables WHERE relid = to_regclass(%s)",
            [name],
        )
        row = cursor.fetchone()
    assert row is not None, f"no partition {name}: nothing would be measured"
    return row[0]


def test_a_resync_that_changes_every_order_reads_the_table_once_not_once_per_order(tmp_path):
    """A re-sync upserts every order in one statement under the apply's settings (no nested
    loops); the update trigger replaces the changed orders' rows. Its DELETE used to scan the
    shop's order products once per changed order (quadratic: hours at 300,000 orders,
    docs/benchmarks.md); now once in all, and the table stays exact."""
    import json

    from customers.sources import FileSource
    from customers.tests.test_ingest import item_line

    shop = shop_factory(agency=agency_factory(), country_code="DE")
    first = store(tmp_path, 300, tag="a")
    shop_full_sync(shop_id=shop.id, source=first)
    assert len(stored(shop)) == 300
    # Every order now lists another product (a later updatedAt: the export's rows win).
    lines = []
    with open(first.paths["orders"]) as export:
        for line in export:
            node = json.loads(line)
            if "__parentId" in node:
                node = item_line(int(node["__parentId"].rsplit("/", 1)[1]), 1, 900, ["new"])
            else:
                node["updatedAt"] = "2025-06-01T00:00:00Z"
            lines.append(json.dumps(node) + "\n")
    changed = tmp_path / "orders-changed.jsonl"
    changed.write_text("".join(lines))
    before = _rows_scanned(shop)
    shop_full_sync(
        shop_id=shop.id,
        source=FileSource({"customers": first.paths["customers"], "orders": str(changed)}),
    )
    assert 0 < _rows_scanned(shop) - before <= 3 * 300  # was ~300 x 300
    assert stored(shop) == expected(shop)
    assert {row[1] for row in stored(shop)} == {900}
