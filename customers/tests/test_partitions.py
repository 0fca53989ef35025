"""The mirror partitioned by shop (customers.partitions, PostgreSQL): a shop's first full sync
builds its partitions bare and attaches them; rows a shop had before (webhooks) are moved into
them and upserted; later syncs and webhooks go through the parents; erasure drops them."""

import pytest
from django.db import connection, transaction

from customers import partitions
from customers.incremental import customers_apply_graphql
from customers.models import Customer, CustomerAddress, Order, SyncRun
from customers.sync import shop_full_sync
from customers.tests.test_ingest import customer_line
from customers.tests.test_sync import Crash, store
from segments.models import OrderProduct
from tenants.shop_erasure import shop_rows_delete
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL partitions"),
]

LOCAL = {"id", "shop", "customer", "merged_into", "mirrored_at", "last_seen_sync_run_id"}


@pytest.fixture
def agency():
    return agency_factory()


def new_shop(agency):
    return shop_factory(agency=agency, country_code="DE")


def _fields(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.name not in LOCAL]


def mirror(shop) -> dict:
    """Everything the mirror holds for the shop, keyed by Shopify ids, local ids left out."""
    shopify_of = dict(Customer.all_shops.filter(shop=shop).values_list("id", "shopify_id"))
    customers = {
        c["shopify_id"]: c for c in Customer.all_shops.filter(shop=shop).values(*_fields(Customer))
    }
    addresses = sorted(
        (shopify_of[a.pop("customer_id")], sorted(a.items()))
        for a in CustomerAddress.all_shops.filter(shop=shop).values(
            "customer_id", *_fields(CustomerAddress)
        )
    )
    orders = {
        o["shopify_id"]: {**o, "customer_id": shopify_of.get(o["customer_id"])}
        for o in Order.all_shops.filter(shop=shop).values("customer_id", *_fields(Order))
    }
    products = sorted(
        (shopify_of[p.customer_id], p.product_id, p.processed_at)
        for p in OrderProduct.objects.filter(shop_id=shop.id)
    )
    return {"customers": customers, "addresses": addresses, "orders": orders, "products": products}


def attached(shop) -> dict[str, bool]:
    """Per mirror table: whether the shop's partition exists and is attached to the parent."""
    found = {}
    with connection.cursor() as cursor:
        for table in partitions.TABLES:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = %s::regclass"
                " AND inhrelid = to_regclass(%s))",
                [table, partitions.partition_name(table, shop.id)],
            )
            found[table] = cursor.fetchone()[0]
    return found


def unadopted_indexes(shop) -> list[str]:
    """Indexes of the shop's partitions that are not the partition's copy of a parent index
    (attaching built a duplicate), and parent indexes the partition lacks."""
    problems = []
    with connection.cursor() as cursor:
        for table in partitions.TABLES:
            name = partitions.partition_name(table, shop.id)
            cursor.execute(
                """SELECT i.indexrelid::regclass::text FROM pg_index i
                   WHERE i.indrelid = %s::regclass AND NOT EXISTS (
                       SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)""",
                [name],
            )
            problems += [f"{index} not adopted" for (index,) in cursor.fetchall()]
            cursor.execute(
                """SELECT (SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass),
                          (SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass)""",
                [table, name],
            )
            parent, child = cursor.fetchone()
            if parent != child:
                problems.append(f"{name}: {child} indexes, parent {parent}")
    return problems


def in_default(shop) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT "
            + " + ".join(
                f"(SELECT count(*) FROM {t}_default WHERE shop_id = %s)" for t in partitions.TABLES
            ),
            [shop.id] * len(partitions.TABLES),
        )
        return cursor.fetchone()[0]


def webhook(shop, n: int, **changes) -> None:
    with transaction.atomic():
        customers_apply_graphql(shop=shop, nodes=[customer_line(n, **changes)])


def test_a_first_sync_builds_the_partitions_and_equals_the_upsert_path(agency, tmp_path):
    bare, moved = new_shop(agency), new_shop(agency)
    source = store(tmp_path, 8)
    run = shop_full_sync(shop_id=bare.id, source=source)
    assert "index_and_attach" in run.checkpoint["seconds"]  # built bare
    assert (run.records_created, run.records_updated) == (16, 0)
    assert all(attached(bare).values()) and unadopted_indexes(bare) == []

    # A shop with rows from a webhook before its first sync: they move into its partitions
    # (keeping their ids) and the sync upserts through the parents.
    webhook(moved, 3, updated="2024-01-01T00:00:00Z", firstName="Before")
    early = Customer.all_shops.get(shop=moved, shopify_id=3).id
    assert in_default(moved) > 0 and not any(attached(moved).values())
    run = shop_full_sync(shop_id=moved.id, source=source)
    assert "index_and_attach" not in run.checkpoint["seconds"]
    assert (run.records_created, run.records_updated) == (15, 1)
    assert all(attached(moved).values()) and unadopted_indexes(moved) == []
    assert in_default(moved) == 0
    assert Customer.all_shops.get(shop=moved, shopify_id=3).id == early

    built, upserted = mirror(bare), mirror(moved)
    assert len(built["customers"]) == 8 and len(built["orders"]) == 8
    assert len(built["addresses"]) == 8 and len(built["products"]) == 8
    assert built == upserted


def test_a_resync_after_webhooks_keeps_newer_rows(agency, tmp_path):
    shop = new_shop(agency)
    shop_full_sync(shop_id=shop.id, source=store(tmp_path, 5, tag="a"))
    ids = dict(Customer.all_shops.filter(shop=shop).values_list("shopify_id", "id"))
    webhook(shop, 2, updated="2030-01-01T00:00:00Z", firstName="Newer")
    again = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 5, tag="b"))
    assert "index_and_attach" not in again.checkpoint["seconds"]  # upserted into the partition
    assert Customer.all_shops.get(shop=shop, shopify_id=2).first_name == "Newer"
    assert Customer.all_shops.get(shop=shop, shopify_id=1).first_name == "Anna1"
    assert dict(Customer.all_shops.filter(shop=shop).values_list("shopify_id", "id")) == ids
    assert (again.records_created, again.records_updated) == (0, 9)  # one refused as older
    # The newer webhook listed no address; the older export's address is not put back.
    assert CustomerAddress.all_shops.filter(shop=shop).count() == 4
    assert not CustomerAddress.all_shops.filter(shop=shop, customer_id=ids[2]).exists()


@pytest.mark.parametrize("crash_in", ["orders_build", "partition_attach"])
def test_a_crash_during_the_build_leaves_nothing_and_the_rerun_builds(
    agency, tmp_path, monkeypatch, crash_in
):
    from customers import staging

    shop = new_shop(agency)
    source = store(tmp_path, 6)
    real_attach = partitions.partition_attach

    def attach_then_crash(cursor, table, shop_id):
        real_attach(cursor, table, shop_id)
        if table == partitions.TABLES[-1]:  # every partition indexed and attached
            raise Crash("killed while attaching")

    def crash(**kwargs):
        raise Crash("killed while building")

    if crash_in == "orders_build":
        monkeypatch.setattr(staging, "orders_build", crash)
    else:
        monkeypatch.setattr(partitions, "partition_attach", attach_then_crash)
    with pytest.raises(Crash):
        shop_full_sync(shop_id=shop.id, source=source)
    assert attached(shop) == dict.fromkeys(partitions.TABLES, False)
    with connection.cursor() as cursor:  # not even unattached tables are left
        cursor.execute("SELECT to_regclass(%s)", [f"customers_customer_s{shop.id}"])
        assert cursor.fetchone()[0] is None
    assert Customer.all_shops.filter(shop=shop).count() == 0
    monkeypatch.undo()
    rerun = shop_full_sync(shop_id=shop.id, source=source)
    assert rerun.status == SyncRun.Status.SUCCEEDED
    assert "index_and_attach" in rerun.checkpoint["seconds"]
    assert all(attached(shop).values())
    assert Order.all_shops.filter(shop=shop, customer__isnull=False).count() == 6


def test_a_crash_after_moving_rows_leaves_the_previous_mirror_and_the_rerun_completes(
    agency, tmp_path, monkeypatch
):
    from customers import staging

    shop = new_shop(agency)
    webhook(shop, 1, updated="2024-01-01T00:00:00Z", firstName="Before")
    previous = mirror(shop)

    def crash(**kwargs):
        raise Crash("killed while applying")

    monkeypatch.setattr(staging, "orders_apply", crash)
    with pytest.raises(Crash):
        shop_full_sync(shop_id=shop.id, source=store(tmp_path, 4))
    assert mirror(shop) == previous and in_default(shop) > 0  # the move rolled back too
    assert not any(attached(shop).values())
    monkeypatch.undo()
    rerun = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 4))
    assert rerun.status == SyncRun.Status.SUCCEEDED and all(attached(shop).values())
    assert Customer.all_shops.get(shop=shop, shopify_id=1).first_name == "Anna1"
    assert Customer.all_shops.filter(shop=shop).count() == 4


def test_shops_are_isolated_in_their_own_partitions(agency, tmp_path):
    first, second = new_shop(agency), new_shop(agency)
    shop_full_sync(shop_id=first.id, source=store(tmp_path, 5, tag="a"))
    shop_full_sync(shop_id=second.id, source=store(tmp_path, 7, tag="b"))
    before = mirror(second)
    # A re-sync of the first shop (two customers gone) touches nothing of the second.
    again = shop_full_sync(shop_id=first.id, source=store(tmp_path, 3, tag="c"))
    assert again.records_deleted == 2
    assert mirror(second) == before
    assert Customer.all_shops.filter(shop=second, deleted_at__isnull=False).count() == 0
    # The same Shopify ids in both shops, local ids unique across them (one sequence).
    ids = {
        shop.id: set(Customer.all_shops.filter(shop=shop).values_list("id", flat=True))
        for shop in (first, second)
    }
    assert len(ids[first.id]) == 5 and len(ids[second.id]) == 7
    assert not ids[first.id] & ids[second.id]
    # Looked up by local id alone (no shop): found in the right partition.
    some = min(ids[second.id])
    assert Customer.all_shops.get(pk=some).shop_id == second.id
    with connection.cursor() as cursor:
        for shop in (first, second):
            for table in partitions.TABLES:
                cursor.execute(
                    f"SELECT DISTINCT shop_id FROM {partitions.partition_name(table, shop.id)}"
                )
                assert cursor.fetchall() == [(shop.id,)]


def test_erasure_drops_the_shops_partitions_only(agency, tmp_path):
    gone, kept = new_shop(agency), new_shop(agency)
    shop_full_sync(shop_id=gone.id, source=store(tmp_path, 4, tag="a"))
    shop_full_sync(shop_id=kept.id, source=store(tmp_path, 6, tag="b"))
    before = mirror(kept)
    deleted = shop_rows_delete(shop_id=gone.id)
    assert deleted["customers.Customer"] == 4 and deleted["customers.Order"] == 4
    assert deleted["customers.CustomerAddress"] == 4
    with connection.cursor() as cursor:
        for table in partitions.TABLES:
            cursor.execute("SELECT to_regclass(%s)", [partitions.partition_name(table, gone.id)])
            assert cursor.fetchone()[0] is None
    assert not OrderProduct.objects.filter(shop_id=gone.id).exists()
    assert all(attached(kept).values()) and mirror(kept) == before
    assert len(before["products"]) == 6


def test_upserts_tell_inserted_rows_from_updated_ones(agency, tmp_path):
    """The writers' RETURNING (`partitions.INSERTED`): exact per row, whatever the mix."""
    shop = new_shop(agency)
    with transaction.atomic():
        first = customers_apply_graphql(
            shop=shop, nodes=[customer_line(2, updated="2024-01-01T00:00:00Z")]
        )
    assert (first.created, first.updated) == (1, 0)
    newer = "2024-06-01T00:00:00Z"  # still older than the export below
    with transaction.atomic():
        mixed = customers_apply_graphql(
            shop=shop, nodes=[customer_line(n, updated=newer) for n in (1, 2, 3)]
        )
    assert (mixed.created, mixed.updated) == (2, 1)
    assert mixed.applied[2] == Customer.all_shops.get(shop=shop, shopify_id=2).id
    # The same through a shop's own partitions, in the bulk path of a full sync.
    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 5))
    assert (run.records_created, run.records_updated) == (7, 3)
