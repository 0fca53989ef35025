"""`has_tag` (customers.lookups): exact tags, the same rows as the LIKE form, and on PostgreSQL
answered by the GIN array indexes of migration 0009."""

import pytest
from django.db import connection

from customers.lookups import HasTag
from customers.models import Customer, Order
from customers.normalize import tag_pattern, tags_normalize
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db

TAGS = [
    ["VIP", "newsletter"], ["vip-2024"], [], ["  Vip  "], ["news", "letter"], ["50%_off"],
    ["Ärzte", "Zoë"],
]  # fmt: skip
ASKED = [
    "vip", "VIP ", "vi", "newsletter", "letter", "", "  ", "50%_off", "50", "%", "_",
    "ÄRZTE", "ärzte", "arzte", "zoë", "zoe",
]  # fmt: skip


@pytest.fixture
def shop():
    shop = shop_factory(agency=agency_factory())
    for n, tags in enumerate(TAGS, start=1):
        customer = Customer.all_shops.create(
            shop=shop, shopify_id=n, gid=f"gid://shopify/Customer/{n}",
            tags=tags, tags_normalized=tags_normalize(tags),
        )  # fmt: skip
        Order.all_shops.create(
            shop=shop, shopify_id=100 + n, customer=customer, customer_shopify_id=n,
            product_tags=tags, product_tags_normalized=tags_normalize(tags),
        )  # fmt: skip
    return shop


def _ids(queryset) -> list[int]:
    return sorted(queryset.values_list("shopify_id", flat=True))


@pytest.mark.parametrize("tag", ASKED)
def test_has_tag_finds_exactly_the_tagged_rows(shop, tag):
    customers = Customer.all_shops.filter(shop=shop)
    wanted = [
        n for n, tags in enumerate(TAGS, start=1)
        if tag.strip() and tag.strip().lower() in {t.strip().lower() for t in tags}
    ]  # fmt: skip
    assert _ids(customers.filter(tags_normalized__has_tag=tag)) == wanted
    assert _ids(customers.exclude(tags_normalized__has_tag=tag)) == [
        n for n in range(1, len(TAGS) + 1) if n not in wanted
    ]
    orders = Order.all_shops.filter(shop=shop, product_tags_normalized__has_tag=tag)
    assert _ids(orders) == [100 + n for n in wanted]


@pytest.mark.parametrize("tag", ASKED)
def test_the_like_form_used_elsewhere_agrees(shop, tag, monkeypatch):
    customers = Customer.all_shops.filter(shop=shop)
    native = _ids(customers.filter(tags_normalized__has_tag=tag))
    monkeypatch.setattr(HasTag, "as_postgresql", HasTag.as_sql)  # what SQLite runs
    assert _ids(customers.filter(tags_normalized__has_tag=tag)) == native
    assert "LIKE" in str(customers.filter(tags_normalized__has_tag="vip").query)
    if tag.strip():
        assert _ids(customers.filter(tags_normalized__contains=tag_pattern(tag))) == native


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL indexes")
@pytest.mark.parametrize(
    ("model", "column", "index"),
    [
        (Customer, "tags_normalized", "customer_tags_gin"),
        (Order, "product_tags_normalized", "order_product_tags_gin"),
    ],
)
def test_postgresql_answers_has_tag_from_the_array_index(shop, model, column, index):
    queryset = model.all_shops.filter(**{f"{column}__has_tag": "vip"})
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: force the choice
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        # The mirror is partitioned by shop: the scan names the partitions' copies of the index.
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass",
            [index],
        )
        copies = [row[0] for row in cursor.fetchall()]
    assert copies and any(f" on {name} " in f"{plan} " for name in copies), plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL catalog")
def test_tag_texts_compare_bytewise():
    """customers migration 0014: the tag texts are only split and matched whole, so they are
    collated "C" (their GIN indexes build without strcoll); the matches above are unchanged,
    non-ASCII tags included (tags_normalize lowercases them in Python)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT a.attrelid::regclass::text, a.attname, c.collname FROM pg_attribute a
               JOIN pg_collation c ON c.oid = a.attcollation
               WHERE a.attrelid IN ('customers_customer'::regclass, 'customers_order'::regclass)
                 AND a.attname IN ('tags_normalized', 'product_tags_normalized')
               ORDER BY 1"""
        )
        assert cursor.fetchall() == [
            ("customers_customer", "tags_normalized", "C"),
            ("customers_order", "product_tags_normalized", "C"),
        ]
