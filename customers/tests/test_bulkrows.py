"""customers.bulkrows (the full sync's fast COPY lines) stores exactly what customers.mapping maps.

Both mappings are loaded into staging tables of the same types, the reference through psycopg's
row adaptation of the mapping dicts; the rows must be identical, column by column.
"""

import json
from pathlib import Path

import orjson
import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from customers import bulkrows, staging
from customers.mapping import address_from_graphql, customer_from_graphql, order_from_graphql
from customers.tests.test_ingest import address_line, customer_line, item_line, order_line

pytestmark = pytest.mark.django_db
JSON_COLUMNS = {"tags", "merge_blockers", "product_ids", "product_tags"}
REFERENCE_RUN, FAST_RUN = 900001, 900002


def reference_rows(kind, node, children, shop_country):
    """The mapping dicts as tuples in staging column order (what the old ingest wrote)."""

    def values(row, columns):
        return [json.dumps(row[c]) if c in JSON_COLUMNS else row[c] for c in columns]

    if kind == "orders":
        row = order_from_graphql(node, line_items=children or None)
        return [values(row, bulkrows.ORDER_COLUMNS)], []
    addresses = [address_from_graphql(c) for c in children]
    if not children and node.get("addresses") is not None:
        addresses = None
    row, mapped = customer_from_graphql(node, addresses=addresses, shop_country=shop_country)
    address_rows = [[row["shopify_id"], *values(a, bulkrows.ADDRESS_COLUMNS[1:])] for a in mapped]
    return [values(row, bulkrows.CUSTOMER_COLUMNS)], address_rows


def fast_lines(kind, node, children, shop_country, line_no):
    prefix = f"{line_no}\t"
    # As StagedLoad decides: the fast path when the JSON lines hold no backslash.
    clean = all(
        bulkrows.copy_clean(json.dumps(o, ensure_ascii=ascii).encode())
        for o in [node, *children]
        for ascii in (False, True)
    )
    if kind == "orders":
        return [bulkrows.order_line(node, children or None, prefix, clean=clean)], []
    addresses = children if children or node.get("addresses") is None else None
    line, address_lines = bulkrows.customer_lines(
        node, addresses, shop_country, prefix, clean=clean
    )
    return [line], address_lines


def load_both(records, *, shop_country="DE"):
    """records: (kind, node, children). Returns the two runs' staging table names."""
    for run in (REFERENCE_RUN, FAST_RUN):
        staging.stage_tables_drop(run)
        staging.stage_tables_create(run)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for line_no, (kind, node, children) in enumerate(records, start=1):
            parents, addresses = reference_rows(kind, node, children, shop_country)
            columns = bulkrows.ORDER_COLUMNS if kind == "orders" else bulkrows.CUSTOMER_COLUMNS
            table = staging.table_name(REFERENCE_RUN, kind)
            with raw.copy(f"COPY {table} (line_no, {', '.join(columns)}) FROM STDIN") as copy:
                for row in parents:
                    copy.write_row([line_no, *row])
            table = staging.table_name(REFERENCE_RUN, "addresses")
            names = ", ".join(bulkrows.ADDRESS_COLUMNS)
            with raw.copy(f"COPY {table} (line_no, {names}) FROM STDIN") as copy:
                for row in addresses:
                    copy.write_row([line_no, *row])
            parents, addresses = fast_lines(kind, node, children, shop_country, line_no)
            staging._copy(
                cursor, staging.table_name(FAST_RUN, kind), ["line_no", *columns], parents
            )
            staging._copy(
                cursor,
                staging.table_name(FAST_RUN, "addresses"),
                ["line_no", *bulkrows.ADDRESS_COLUMNS],
                addresses,
            )


def assert_identical(what):
    """The two runs' staged rows are the same, their ids aside (staged customers and orders take
    theirs from the mirror's sequences as they are COPYed)."""
    a, b = staging.table_name(REFERENCE_RUN, what), staging.table_name(FAST_RUN, what)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {a}")
        count = cursor.fetchone()[0]
        cursor.execute(
            "SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid"
            " = %s::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'id'",
            [a],
        )
        columns = cursor.fetchone()[0]
        cursor.execute(f"SELECT {columns} FROM {a} EXCEPT ALL SELECT {columns} FROM {b}")
        only_reference = cursor.fetchall()
        cursor.execute(f"SELECT {columns} FROM {b} EXCEPT ALL SELECT {columns} FROM {a}")
        only_fast = cursor.fetchall()
    assert (only_reference, only_fast) == ([], [])
    return count


EDGE_CUSTOMERS = [
    customer_line(1),
    customer_line(2, orders=(3, "12.5")),
    customer_line(3, firstName="Tab\there", lastName="Back\\slash", note="multi\nline\r\nnote"),
    customer_line(4, defaultAddress={"city": "Köln", "zip": "50667", "countryCodeV2": "DE"}),
    customer_line(5, defaultAddress=None, tags=[], defaultPhoneNumber=None, state=None),
    customer_line(
        6,
        addresses=[
            {"id": "gid://shopify/MailingAddress/61", "city": "Wien", "countryCodeV2": "AT"},
            {"id": "gid://shopify/MailingAddress/62", "city": "Graz", "zip": "8010"},
        ],
        defaultAddress={"id": "gid://shopify/MailingAddress/62"},
    ),
    customer_line(
        7,
        mergeable={"isMergeable": False, "errorFields": ["CUSTOMER_HAS_GIFT_CARDS"]},
        statistics={"predictedSpendTier": "HIGH"},
        defaultEmailAddress=None,
        email="Plain@Example.com",
        emailMarketingConsent={"marketingState": "SUBSCRIBED", "consentUpdatedAt": None},
        smsMarketingConsent={"marketingState": "NOT_SUBSCRIBED"},
        phone="(415) 555-2671",
    ),
    customer_line(8, tags=["Ünïcode", 'quote"d', "back\\slash"], locale=None, updatedAt=None),
    customer_line(9, defaultAddress={"id": "gid://shopify/MailingAddress/999"}),
    customer_line(10, amountSpent={"amount": "", "currencyCode": None}, numberOfOrders=0),
]


def test_edge_cases_map_identically():
    records = []
    for node in EDGE_CUSTOMERS:
        n = int(node["id"].rsplit("/", 1)[1])
        children = [] if "addresses" in node else [address_line(n, 1), address_line(n, 2)]
        if n == 3:
            children[1]["city"] = "Tab\tCity"
            children[1]["zip"] = "12345-6789"
            children[1]["countryCodeV2"] = "US"
        if n == 9:  # default id not among the addresses: none is default
            children[0]["phone"] = "+4915112345678"
        records.append(("customers", node, children))
    records += [
        ("orders", order_line(10, 1, "59.90"), [item_line(10, 1, 300, ["b", "a"])]),
        ("orders", order_line(11, 2, "1.00", cancelled="2023-01-09T00:00:00Z"), []),
        ("orders", {"id": "gid://shopify/Order/12", "totalPrice": 7, "test": True}, []),
        (
            "orders",
            {
                "id": "gid://shopify/Order/13",
                "createdAt": "2023-02-01T00:00:00Z",
                "lineItems": {"nodes": [{"productId": "gid://shopify/Product/5"}]},
                "totalPriceSet": {"shopMoney": {"amount": "3", "currencyCode": "USD"}},
            },
            None,
        ),
        ("orders", {"id": "gid://shopify/Order/14", "customer": None, "lineItems": []}, []),
    ]
    load_both([(k, n, c or []) if c is not None else (k, n, []) for k, n, c in records])
    assert assert_identical("customers") == len(EDGE_CUSTOMERS)
    assert assert_identical("addresses") == 2 * (len(EDGE_CUSTOMERS) - 1) + 2
    assert assert_identical("orders") == 5


def test_a_generated_store_maps_identically(tmp_path):
    from bench.ingest import write_exports

    paths = write_exports(150, Path(tmp_path), seed=7)
    records = []
    for kind in ("customers", "orders"):
        current = None
        for raw in Path(paths[kind]).read_bytes().splitlines():
            node = orjson.loads(raw)
            if "__parentId" in node:
                current[2].append(node)
                continue
            current = (kind, node, [])
            records.append(current)
    load_both(records)
    assert assert_identical("customers") == 150
    assert assert_identical("addresses") > 100
    assert assert_identical("orders") > 150


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12))
def test_copy_clean_only_when_no_decoded_string_needs_copy_escaping(text):
    """Never clean when a value holds a backslash, tab, newline or carriage return; clean for
    any text without those and without other control characters (`\\u0007` is taken as unclean:
    slower, same rows), whether the export escapes non-ASCII letters or not."""
    needs_escaping = any(c in text for c in "\\\t\n\r")
    plain = not needs_escaping and all(c >= " " for c in text)
    for ascii in (False, True):
        raw = json.dumps({"id": "gid://shopify/Customer/1", "note": text}, ensure_ascii=ascii)
        clean = bulkrows.copy_clean(raw.encode())
        assert not (clean and needs_escaping), raw
        assert clean or not plain, raw
