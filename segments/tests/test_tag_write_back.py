"""Group tags written back to a sandbox store over real HTTP: only changes, idempotent, resumable."""

from datetime import UTC, datetime, timedelta
from unittest import mock

from audit.models import AuditEvent
from customers.models import Customer
from segments.services import group_set_install_built_in, group_set_refresh, group_tags_write_back
from segments.tests.query.mirror_data import insert_customer
from tenants.shopify import operations
from tenants.tests.factories import agency_factory, shop_factory

NOW = datetime.now(UTC)


def test_group_tags_follow_the_groups(db, sandbox_store):
    agency = agency_factory()
    shop = shop_factory(
        agency=agency,
        domain=sandbox_store.domain,
        token=sandbox_store.token,
        api_base_url=sandbox_store.base_url,
    )
    people = {}
    for name, spec in {
        "buyer": {
            "number_of_orders": 2,
            "first_order_at": NOW - timedelta(days=200),
            "last_order_at": NOW - timedelta(days=10),
        },
        "browser": {"number_of_orders": 0},
        "odd": {"number_of_orders": 1},  # no order dates: "other", no tag
    }.items():
        gid = sandbox_store.create_customer(
            {"firstName": name, "email": f"{name}@example.com", "tags": ["keep-me"]}
        )["id"]
        people[name] = insert_customer(shop, {**spec, "shopify_id": int(gid.rsplit("/", 1)[1])})
        Customer.all_shops.filter(pk=people[name].pk).update(gid=gid)
        people[name].gid = gid
    lifecycle = group_set_install_built_in(agency=agency, kind="lifecycle")
    group_set_refresh(group_set_id=lifecycle.pk)

    def tags_of(name):
        return set(operations.customer_fetch(shop, people[name].gid)["tags"])

    first = group_tags_write_back(
        group_set_id=lifecycle.pk, shop_id=shop.pk, limit=1
    )  # stops early
    assert (first.changed, first.remaining) == (1, 1)
    rest = group_tags_write_back(group_set_id=lifecycle.pk, shop_id=shop.pk)  # resumes
    assert (rest.changed, rest.remaining) == (1, 0)
    assert tags_of("buyer") == {"keep-me", "group:active"}
    assert tags_of("browser") == {"keep-me", "group:prospects"}
    assert tags_of("odd") == {"keep-me"}

    with (
        mock.patch.object(operations, "tags_add", wraps=operations.tags_add) as adds,
        mock.patch.object(operations, "tags_remove", wraps=operations.tags_remove) as removes,
    ):
        again = group_tags_write_back(group_set_id=lifecycle.pk, shop_id=shop.pk)
        assert (again.changed, adds.call_count, removes.call_count) == (0, 0, 0)

        Customer.all_shops.filter(pk=people["buyer"].pk).update(
            last_order_at=NOW - timedelta(days=400)
        )
        group_set_refresh(group_set_id=lifecycle.pk)
        moved = group_tags_write_back(group_set_id=lifecycle.pk, shop_id=shop.pk)
        assert moved.changed == 1 and adds.call_count == 1 and removes.call_count == 1
    assert tags_of("buyer") == {"keep-me", "group:dormant"}
    assert AuditEvent.objects.filter(event="group_set.tags_written", shop_id=shop.pk).count() == 4


def test_a_customer_deleted_in_shopify_is_skipped_and_the_run_goes_on(db, sandbox_store):
    agency = agency_factory()
    shop = shop_factory(
        agency=agency,
        domain=sandbox_store.domain,
        token=sandbox_store.token,
        api_base_url=sandbox_store.base_url,
    )
    people = []
    for name in ("first", "gone", "last"):
        gid = sandbox_store.create_customer({"firstName": name, "email": f"{name}@example.com"})[
            "id"
        ]
        person = insert_customer(
            shop, {"number_of_orders": 0, "shopify_id": int(gid.rsplit("/", 1)[1])}
        )
        Customer.all_shops.filter(pk=person.pk).update(gid=gid)
        person.gid = gid
        people.append(person)
    # Deleted in Shopify; the mirror has not heard of it yet.
    sandbox_store.delete_customer(people[1].gid.rsplit("/", 1)[1])
    lifecycle = group_set_install_built_in(agency=agency, kind="lifecycle")
    group_set_refresh(group_set_id=lifecycle.pk)

    run = group_tags_write_back(group_set_id=lifecycle.pk, shop_id=shop.pk)

    assert (run.changed, run.skipped, run.remaining) == (2, 1, 0)
    for person in (people[0], people[2]):
        assert "group:prospects" in operations.customer_fetch(shop, person.gid)["tags"]
    event = AuditEvent.objects.get(event="group_set.tags_written", shop_id=shop.pk)
    assert event.data["skipped"] == 1
    (skipped,) = event.data["skipped_customers"]
    assert skipped["customer"] == people[1].pk and "does not exist" in skipped["reason"]
    # Not recorded as written: the next run tries it again (until the mirror drops it).
    again = group_tags_write_back(group_set_id=lifecycle.pk, shop_id=shop.pk)
    assert (again.changed, again.skipped) == (0, 1)
