"""The mirror partitioned by shop (customers.partitions, PostgreSQL): a shop's first full sync
builds its partitions bare and attaches them; rows a shop had before (webhooks) are moved into
them and upserted; later syncs and webhooks go through the parents; erasure drops them."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from customers import partitions
from customers.incremental import customers_apply_graphql, orders_delta_apply
from customers.models import Customer, CustomerAddress, Order, SyncRun
from customers.sources import FileSource
from customers.sync import shop_full_sync
from customers.tests.test_ingest import address_line, customer_line, item_line, order_line
from customers.tests.test_sync import Crash, store, write_export
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


def lock_waiting(pid: int | None) -> bool:
    """Whether backend `pid` waits for a lock now. The caller may be inside a transaction (a
    sync's apply, monkeypatched): there PostgreSQL keeps the list of backends it read first
    until the transaction ends, so a writer that connected after the first poll would never
    be seen waiting (the flaky failure: "not all waiting"). Cleared before each poll."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def previous_rows(shop) -> None:
    """Rows a shop gets from webhooks before its first sync (store()'s export has customers
    1-8 updated 2024-11-01 with one address each, orders 1001-1008 updated 2023-01-02)."""
    webhook(shop, 3, updated="2024-01-01T00:00:00Z", firstName="Older")  # the export's wins
    webhook(shop, 5, updated="2030-01-01T00:00:00Z", firstName="Newer", tags=["vip"])  # kept
    webhook(shop, 98, updated="2030-01-01T00:00:00Z", firstName="Webhook")  # not in the export
    webhook(shop, 99, updated="2024-01-01T00:00:00Z", firstName="Gone")  # tombstoned
    orders_delta_apply(
        shop=shop,
        nodes=[
            order_line(1002, 2, "99.00", day=20),  # newer than the export's: kept
            order_line(1004, 4, "1.00", day=1),  # older: the export's wins
            order_line(5000, 98, "7.00", day=3),  # not in the export (tombstoned)
        ],
    )
    with transaction.atomic():  # an address for a kept customer, another for a replaced one
        for n in (3, 5):
            customers_apply_graphql(
                shop=shop,
                nodes=[
                    customer_line(
                        n,
                        updated="2024-01-01T00:00:00Z" if n == 3 else "2030-01-01T00:00:00Z",
                        firstName="Older" if n == 3 else "Newer",
                        tags=["vip"] if n == 5 else ["VIP", "newsletter"],
                        addresses=[{**address_line(n, 7), "city": f"Webhook{n}"}],
                    )
                ],
            )


def comparable(held: dict) -> dict:
    """A mirror() with tombstone times (the run's own clock) reduced to whether there is one."""
    for kind in ("customers", "orders"):
        for row in held[kind].values():
            row["deleted_at"] = row["deleted_at"] is not None
    return held


def local_ids(shop) -> dict[str, dict[int, int]]:
    return {
        "customers": dict(Customer.all_shops.filter(shop=shop).values_list("shopify_id", "id")),
        "orders": dict(Order.all_shops.filter(shop=shop).values_list("shopify_id", "id")),
        "addresses": dict(
            CustomerAddress.all_shops.filter(shop=shop).values_list("shopify_id", "id")
        ),
    }


def seen(shop, run) -> dict[str, set[int]]:
    """Shopify ids of the rows the run marked seen."""
    return {
        "customers": set(
            Customer.all_shops.filter(shop=shop, last_seen_sync_run_id=run.id).values_list(
                "shopify_id", flat=True
            )
        ),
        "orders": set(
            Order.all_shops.filter(shop=shop, last_seen_sync_run_id=run.id).values_list(
                "shopify_id", flat=True
            )
        ),
    }


def test_a_first_sync_builds_the_partitions_and_equals_the_upsert_path(agency, tmp_path):
    bare, moved = new_shop(agency), new_shop(agency)
    source = store(tmp_path, 8)
    run = shop_full_sync(shop_id=bare.id, source=source)
    assert "build" in run.checkpoint["seconds"]  # built bare
    assert (run.records_created, run.records_updated) == (16, 0)
    assert all(attached(bare).values()) and unadopted_indexes(bare) == []

    # A shop with rows from a webhook before its first sync: merged into the bare build,
    # keeping their ids, newer rows winning.
    webhook(moved, 3, updated="2024-01-01T00:00:00Z", firstName="Before")
    early = Customer.all_shops.get(shop=moved, shopify_id=3).id
    assert in_default(moved) > 0 and not any(attached(moved).values())
    run = shop_full_sync(shop_id=moved.id, source=source)
    assert "build" in run.checkpoint["seconds"]
    assert (run.records_created, run.records_updated) == (15, 1)
    assert all(attached(moved).values()) and unadopted_indexes(moved) == []
    assert in_default(moved) == 0
    assert Customer.all_shops.get(shop=moved, shopify_id=3).id == early

    built, upserted = mirror(bare), mirror(moved)
    assert len(built["customers"]) == 8 and len(built["orders"]) == 8
    assert len(built["addresses"]) == 8 and len(built["products"]) == 8
    assert built == upserted


def test_previous_rows_merge_into_the_build_as_the_upsert_path_leaves_them(
    agency, tmp_path, monkeypatch
):
    """Rows in the default partitions before the first sync (newer and older than the export,
    and rows only webhooks created): the bare build equals the upsert path field by field, and
    the previous rows keep their local ids."""
    built, upserted = new_shop(agency), new_shop(agency)
    for shop in (built, upserted):
        previous_rows(shop)
    before = local_ids(built)
    assert in_default(built) > 0 and len(before["customers"]) == 4
    source = store(tmp_path, 8)
    build = shop_full_sync(shop_id=built.id, source=source)
    assert "build" in build.checkpoint["seconds"]  # not the upsert fallback
    assert all(attached(built).values()) and unadopted_indexes(built) == []
    assert in_default(built) == 0

    real_needed = partitions.shop_partitions_needed
    monkeypatch.setattr(  # the upsert path, through the parents (into the default partitions)
        partitions,
        "shop_partitions_needed",
        lambda *, shop_id: False if shop_id == upserted.id else real_needed(shop_id=shop_id),
    )
    upsert = shop_full_sync(shop_id=upserted.id, source=source)
    assert "build" not in upsert.checkpoint["seconds"]

    assert comparable(mirror(built)) == comparable(mirror(upserted))
    assert (build.records_created, build.records_updated, build.records_deleted) == (
        upsert.records_created,
        upsert.records_updated,
        upsert.records_deleted,
    )
    assert seen(built, build) == seen(upserted, upsert)
    # The previous rows kept their ids (addresses only where the customer was not replaced).
    after = local_ids(built)
    for kind in ("customers", "orders"):
        assert {k: after[kind][k] for k in before[kind]} == before[kind]
    kept_address = address_line(5, 7)["id"].rsplit("/", 1)[1]
    assert after["addresses"][int(kept_address)] == before["addresses"][int(kept_address)]
    # Newer wins, whichever side it is on.
    customers = {c.shopify_id: c for c in Customer.all_shops.filter(shop=built)}
    assert customers[3].first_name == "Anna3" and customers[5].first_name == "Newer"
    assert customers[98].deleted_at is None and customers[99].deleted_at is not None
    assert customers[5].last_seen_sync_run_id == build.id  # seen, though not rewritten
    orders = {o.shopify_id: o for o in Order.all_shops.filter(shop=built)}
    assert (orders[1002].total_price, orders[1004].total_price) == (Decimal("99"), Decimal("10"))
    assert orders[5000].customer_id == customers[98].id
    assert sorted(
        CustomerAddress.all_shops.filter(shop=built, customer_id=customers[5].id).values_list(
            "city", flat=True
        )
    ) == ["Webhook5"]  # the newer customer's addresses stay; the replaced one's are the export's
    assert sorted(
        CustomerAddress.all_shops.filter(shop=built, customer_id=customers[3].id).values_list(
            "city", flat=True
        )
    ) == ["Berlin"]


def test_rows_referring_to_previous_customers_still_resolve(agency, tmp_path):
    from merges.models import BlockingKey, DuplicateCandidate
    from segments.models import SegmentMembership
    from segments.services import segment_create, segment_refresh

    shop = new_shop(agency)
    previous_rows(shop)
    segment = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", shop_ids=[shop.pk]
    )
    segment_refresh(segment_id=segment.pk)
    ids = local_ids(shop)["customers"]
    members = set(
        SegmentMembership.all_shops.filter(segment=segment).values_list("customer_id", flat=True)
    )
    assert members and members <= set(ids.values())
    DuplicateCandidate.all_shops.create(
        shop=shop,
        members=sorted([ids[3], ids[5]]),
        survivor_id=ids[5],
        probability=0.95,
        tier="high",
        status=DuplicateCandidate.Status.OPEN,
        detector_version="test",
        detected_at=timezone.now(),
    )
    BlockingKey.all_shops.create(shop=shop, customer_id=ids[98], key_type="email", key_value="x")

    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 8))
    assert "build" in run.checkpoint["seconds"]
    shopify_of = {v: k for k, v in ids.items()}
    for local_id in members:  # the same customer, by id, in the shop's partition
        assert Customer.all_shops.get(pk=local_id).shopify_id == shopify_of[local_id]
    candidate = DuplicateCandidate.all_shops.get(shop=shop)
    assert [Customer.all_shops.get(pk=i).shopify_id for i in candidate.members] == sorted(
        [3, 5], key=lambda n: ids[n]
    )
    assert candidate.survivor.shopify_id == 5
    assert BlockingKey.all_shops.get(shop=shop).customer.shopify_id == 98


def test_an_order_exported_twice_gives_the_aggregates_the_upsert_path_gives(
    agency, tmp_path, monkeypatch
):
    """The build aggregates the staged order rows; an order exported twice (the later line
    wins) counts once, as the upsert path and the webhooks count it."""
    built, upserted = new_shop(agency), new_shop(agency)
    customers, orders = [], []
    for n in range(1, 5):
        customers += [customer_line(n), address_line(n, 1)]
        orders += [order_line(1000 + n, n, "10.00"), item_line(1000 + n, 1, 300, ["shoes"])]
    orders += [order_line(1002, 2, "30.00", day=5), item_line(1002, 1, 301, ["hats"])]
    source = FileSource(
        {
            "customers": write_export(tmp_path, "customers", customers),
            "orders": write_export(tmp_path, "orders", orders),
        }
    )
    run = shop_full_sync(shop_id=built.id, source=source)
    assert "build" in run.checkpoint["seconds"]
    real_needed = partitions.shop_partitions_needed
    monkeypatch.setattr(  # the upsert path, through the parents (into the default partitions)
        partitions,
        "shop_partitions_needed",
        lambda *, shop_id: False if shop_id == upserted.id else real_needed(shop_id=shop_id),
    )
    shop_full_sync(shop_id=upserted.id, source=source)
    assert mirror(built) == mirror(upserted)
    twice = Customer.all_shops.get(shop=built, shopify_id=2)
    assert (twice.number_of_orders, twice.amount_spent) == (1, Decimal("30"))
    assert twice.first_order_at == twice.last_order_at and twice.first_order_at.day == 5


def test_a_resync_after_webhooks_keeps_newer_rows(agency, tmp_path):
    shop = new_shop(agency)
    shop_full_sync(shop_id=shop.id, source=store(tmp_path, 5, tag="a"))
    ids = dict(Customer.all_shops.filter(shop=shop).values_list("shopify_id", "id"))
    webhook(shop, 2, updated="2030-01-01T00:00:00Z", firstName="Newer")
    again = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 5, tag="b"))
    assert "build" not in again.checkpoint["seconds"]  # upserted into the partition
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
    from customers import partition_build

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
        monkeypatch.setattr(partition_build, "orders_build", crash)
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
    assert "build" in rerun.checkpoint["seconds"]
    assert all(attached(shop).values())
    assert Order.all_shops.filter(shop=shop, customer__isnull=False).count() == 6


def test_a_crash_while_merging_previous_rows_leaves_them_and_the_rerun_completes(
    agency, tmp_path, monkeypatch
):
    from customers import partition_build

    shop = new_shop(agency)
    webhook(shop, 1, updated="2024-01-01T00:00:00Z", firstName="Before")
    previous = mirror(shop)

    def crash(**kwargs):
        raise Crash("killed while applying")

    monkeypatch.setattr(partition_build, "orders_build", crash)
    with pytest.raises(Crash):
        shop_full_sync(shop_id=shop.id, source=store(tmp_path, 4))
    assert mirror(shop) == previous and in_default(shop) > 0  # the move rolled back too
    assert not any(attached(shop).values())
    monkeypatch.undo()
    rerun = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 4))
    assert rerun.status == SyncRun.Status.SUCCEEDED and all(attached(shop).values())
    assert "build" in rerun.checkpoint["seconds"] and in_default(shop) == 0
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


@pytest.mark.django_db(transaction=True)
def test_webhooks_during_the_apply_wait_for_its_commit_then_land_in_the_partition(
    agency, tmp_path, monkeypatch
):
    """Real concurrent transactions while a first sync's apply holds its locks (between the
    build and the attach): the shop's webhook deliveries wait before their first statement and
    apply after the commit into the shop's partition; another never-synced shop's writer waits
    on the default partition and goes on after the commit; a shop with its partitions does not
    wait; a transaction that read a default partition and waits to write it (it would deadlock
    with the attach) is cancelled, the sync is not."""
    shop, other, reader, synced = (new_shop(agency) for _ in range(4))
    shop_full_sync(shop_id=synced.id, source=store(tmp_path, 2, tag="s"))
    webhook(shop, 3, updated="2024-01-01T00:00:00Z", firstName="Before")
    pids, results = {}, {}

    def deliver(name, target, n, *, delivery=True, read_first=False, **changes):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids[name] = cursor.fetchone()[0]
                if read_first:
                    cursor.execute(
                        "SELECT count(*) FROM customers_customer WHERE shop_id = %s", [target.id]
                    )
                if delivery:  # as tenants.webhooks.services._apply does
                    partitions.mirror_writes_wait(shop_id=target.id)
                customers_apply_graphql(shop=target, nodes=[customer_line(n, **changes)])
            results[name] = "ok"
        except Exception as error:
            results[name] = error
        finally:
            connection.close()

    later = "2030-01-01T00:00:00Z"
    threads = {
        "shop": threading.Thread(target=deliver, args=("shop", shop, 3), kwargs={"updated": later, "firstName": "During"}),
        "new": threading.Thread(target=deliver, args=("new", shop, 77), kwargs={"updated": later}),
        "other": threading.Thread(target=deliver, args=("other", other, 1), kwargs={"delivery": False}),
        "reader": threading.Thread(target=deliver, args=("reader", reader, 1), kwargs={"delivery": False, "read_first": True}),
        "synced": threading.Thread(target=deliver, args=("synced", synced, 1), kwargs={"updated": later}),
    }  # fmt: skip
    real_attach = partitions.shop_partitions_attach

    def attach_while_webhooks_arrive(*, shop_id):
        for thread in threads.values():
            thread.start()
        threads["synced"].join(timeout=60)
        assert results.get("synced") == "ok"  # done while the apply is still open
        deadline = time.monotonic() + 60
        while not all(lock_waiting(pids.get(n)) for n in ("shop", "new", "other", "reader")):
            assert time.monotonic() < deadline, f"not all waiting: {pids} {results}"
            time.sleep(0.05)
        assert not any(n in results for n in ("shop", "new", "other", "reader"))
        real_attach(shop_id=shop_id)

    monkeypatch.setattr(partitions, "shop_partitions_attach", attach_while_webhooks_arrive)
    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 8))
    for thread in threads.values():
        thread.join(timeout=60)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert "build" in run.checkpoint["seconds"]  # built bare, previous row merged
    assert {n: results[n] for n in ("shop", "new", "other", "synced")} == dict.fromkeys(
        ("shop", "new", "other", "synced"), "ok"
    )
    assert isinstance(results["reader"], OperationalError)  # cancelled: retried by the delivery
    assert in_default(shop) == 0 and all(attached(shop).values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT shopify_id, first_name FROM {partitions.partition_name(partitions.TABLES[0], shop.id)}"
            " WHERE shopify_id IN (3, 77) ORDER BY 1"
        )
        assert cursor.fetchall() == [(3, "During"), (77, "Anna77")]
    assert Customer.all_shops.filter(shop=shop).count() == 9
    assert Customer.all_shops.filter(shop=other).count() == 1 and in_default(other) > 0
    assert not Customer.all_shops.filter(shop=reader).exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_builder_cancels_the_other_and_leaves_the_mirror_as_it_was(
    agency, tmp_path, monkeypatch
):
    """The partitions are built on two connections (outside a transaction): when one step
    fails, the statement running on the other connection is cancelled, the sync fails at once,
    nothing is attached and the shop's previous rows are untouched; the rerun builds again."""
    from customers import partition_build

    shop = new_shop(agency)
    webhook(shop, 3, updated="2024-01-01T00:00:00Z", firstName="Before")
    before = mirror(shop)
    source = store(tmp_path, 6)
    pids = {}

    def slow_orders(**kwargs):  # still running when the addresses fail
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids["orders"] = cursor.fetchone()[0]
            cursor.execute("SELECT pg_sleep(120)")

    def failing_addresses(**kwargs):
        deadline = time.monotonic() + 60
        while "orders" not in pids:  # the other connection is busy
            assert time.monotonic() < deadline
            time.sleep(0.05)
        raise Crash("builder killed")

    monkeypatch.setattr(partition_build, "orders_build", slow_orders)
    monkeypatch.setattr(partition_build, "addresses_build", failing_addresses)
    started = time.monotonic()
    with pytest.raises(partition_build.BuildFailed) as failed:
        shop_full_sync(shop_id=shop.id, source=source)
    assert isinstance(failed.value.__cause__, Crash)
    assert time.monotonic() - started < 60  # the sleeping statement was cancelled
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state = 'active'",
            [pids["orders"]],
        )
        assert cursor.fetchone()[0] == 0
    run = SyncRun.all_shops.get(shop=shop)
    assert run.status == SyncRun.Status.FAILED and "builder killed" in run.error
    assert not any(attached(shop).values()) and mirror(shop) == before and in_default(shop) > 0
    with connection.cursor() as cursor:  # no partition by the shop's name yet: webhooks of the
        for table in partitions.TABLES:  # shop still wait for a first sync's apply
            cursor.execute("SELECT to_regclass(%s)", [partitions.partition_name(table, shop.id)])
            assert cursor.fetchone()[0] is None

    monkeypatch.undo()
    rerun = shop_full_sync(shop_id=shop.id, source=source)
    assert rerun.id == run.id and rerun.status == SyncRun.Status.SUCCEEDED, rerun.error
    assert all(attached(shop).values()) and unadopted_indexes(shop) == []
    assert in_default(shop) == 0 and Customer.all_shops.filter(shop=shop).count() == 6
    with connection.cursor() as cursor:  # the built tables became the partitions
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE %s", [f"_sync{run.id}_%"])
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_webhooks_during_the_build_do_not_wait_and_are_merged(agency, tmp_path, monkeypatch):
    """The build runs before the apply takes the first-sync locks: a webhook delivery of the
    shop goes through at once (into the default partition) and is merged by the apply."""
    from customers import partition_build

    shop = new_shop(agency)
    webhook(shop, 3, updated="2024-01-01T00:00:00Z", firstName="Before")
    real_addresses = partition_build.addresses_build
    results = {}

    def deliver(n, **changes):
        try:
            with transaction.atomic():
                partitions.mirror_writes_wait(shop_id=shop.id)
                customers_apply_graphql(shop=shop, nodes=[customer_line(n, **changes)])
            results[n] = "ok"
        except Exception as error:
            results[n] = error
        finally:
            connection.close()

    def addresses_while_webhooks_arrive(**kwargs):
        later = "2030-01-01T00:00:00Z"
        threads = [
            threading.Thread(target=deliver, args=(3,), kwargs={"updated": later, "firstName": "During"}),
            threading.Thread(target=deliver, args=(77,), kwargs={"updated": later}),
        ]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert results == {3: "ok", 77: "ok"}  # done while the build is still running
        return real_addresses(**kwargs)

    monkeypatch.setattr(partition_build, "addresses_build", addresses_while_webhooks_arrive)
    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 8))
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert results == {3: "ok", 77: "ok"}
    assert in_default(shop) == 0 and all(attached(shop).values())
    customers = {c.shopify_id: c for c in Customer.all_shops.filter(shop=shop)}
    assert len(customers) == 9 and customers[3].first_name == "During"
    assert customers[77].deleted_at is None  # a webhook's customer, not in the export: kept
    assert customers[3].last_seen_sync_run_id == run.id
    assert Order.all_shops.get(shop=shop, shopify_id=1003).customer_id == customers[3].id
    assert sorted(
        OrderProduct.objects.filter(shop_id=shop.id, customer_id=customers[3].id).values_list(
            "product_id", flat=True
        )
    ) == [300]
