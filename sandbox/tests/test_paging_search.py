"""Cursor paging (first/after, last/before, reverse, sort keys) and the search syntax."""

import base64
import json
import time

PAGE = """query Page($first: Int, $after: String, $last: Int, $before: String, $query: String,
                  $sortKey: CustomerSortKeys, $reverse: Boolean) {
  customers(first: $first, after: $after, last: $last, before: $before, query: $query,
            sortKey: $sortKey, reverse: $reverse) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id email tags updatedAt } }
  }
}"""


def _ids(body):
    return [edge["node"]["id"] for edge in body["data"]["customers"]["edges"]]


def _make(sandbox_store, count, **extra):
    return [
        sandbox_store.create_customer({"email": f"c{n}@example.com", **extra})["id"]
        for n in range(count)
    ]


def test_forward_paging_visits_every_customer_once_in_id_order(sandbox_store):
    created = _make(sandbox_store, 7)
    seen, after, pages = [], None, 0
    while True:
        body = sandbox_store.graphql(PAGE, {"first": 3, "after": after})
        connection = body["data"]["customers"]
        seen += _ids(body)
        pages += 1
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == created
    assert pages == 3


def test_cursor_is_shopify_shaped(sandbox_store):
    [first_id] = _make(sandbox_store, 1)
    body = sandbox_store.graphql(PAGE, {"first": 1})
    cursor = json.loads(base64.b64decode(body["data"]["customers"]["edges"][0]["cursor"]))
    assert cursor == {
        "last_id": int(first_id.rsplit("/", 1)[1]),
        "last_value": first_id.rsplit("/", 1)[1],
    }


def test_last_before_and_reverse(sandbox_store):
    created = _make(sandbox_store, 5)
    tail = sandbox_store.graphql(PAGE, {"last": 2})
    assert _ids(tail) == created[-2:]
    assert tail["data"]["customers"]["pageInfo"]["hasPreviousPage"] is True
    assert tail["data"]["customers"]["pageInfo"]["hasNextPage"] is False
    before = sandbox_store.graphql(
        PAGE, {"last": 2, "before": tail["data"]["customers"]["pageInfo"]["startCursor"]}
    )
    assert _ids(before) == created[1:3]
    assert before["data"]["customers"]["pageInfo"]["hasNextPage"] is True
    newest_first = sandbox_store.graphql(PAGE, {"first": 3, "reverse": True})
    assert _ids(newest_first) == list(reversed(created))[:3]
    rest = sandbox_store.graphql(
        PAGE,
        {
            "first": 3,
            "reverse": True,
            "after": newest_first["data"]["customers"]["pageInfo"]["endCursor"],
        },
    )
    assert _ids(rest) == list(reversed(created))[3:]


def test_updated_at_window_with_updated_at_sort_sees_later_changes(sandbox_store):
    created = _make(sandbox_store, 4)
    body = sandbox_store.graphql(PAGE, {"first": 10, "sortKey": "UPDATED_AT"})
    watermark = body["data"]["customers"]["edges"][-1]["node"]["updatedAt"]
    time.sleep(1.1)  # updatedAt is second-precise on the wire
    sandbox_store.update_customer(created[1], {"note": "changed"})
    delta = sandbox_store.graphql(
        PAGE, {"first": 10, "sortKey": "UPDATED_AT", "query": f"updated_at:>'{watermark}'"}
    )
    assert _ids(delta) == [created[1]]
    upto = sandbox_store.graphql(
        PAGE, {"first": 10, "sortKey": "UPDATED_AT", "query": f"updated_at:<='{watermark}'"}
    )
    assert sorted(_ids(upto)) == sorted(created[:1] + created[2:])
    # The changed customer moved to the end of the UPDATED_AT order.
    assert (
        _ids(sandbox_store.graphql(PAGE, {"first": 10, "sortKey": "UPDATED_AT"}))[-1] == created[1]
    )


def test_search_terms(sandbox_store):
    vip = sandbox_store.create_customer(
        {"email": "Vip.Person@Example.com", "tags": ["VIP", "newsletter"], "state": "ENABLED"}
    )["id"]
    plain = sandbox_store.create_customer({"email": "plain@example.com", "tags": ["newsletter"]})[
        "id"
    ]
    phone_only = sandbox_store.create_customer({"firstName": "Phony", "phone": "+4915112345678"})[
        "id"
    ]

    def search(text):
        return _ids(sandbox_store.graphql(PAGE, {"first": 50, "query": text}))

    number = int(plain.rsplit("/", 1)[1])
    assert search("tag:vip") == [vip]
    assert search("tag:newsletter -tag:VIP") == [plain]
    assert search("email:vip.person@example.com") == [vip]
    assert search("state:ENABLED") == [vip]
    assert search("state:DISABLED") == [plain, phone_only]
    assert search(f"id:>{number}") == [phone_only]
    assert search(f"id:>={number}") == [plain, phone_only]
    assert search("email:*") == [vip, plain]
    assert search("tag:VIP OR phone:*") == [vip, phone_only]
    assert search("(tag:VIP OR tag:none) state:ENABLED") == [vip]
    assert search("tag:newsletter AND NOT state:ENABLED") == [plain]
    assert search("phony") == [phone_only]  # free text over names, email and phone
    # Unknown fields are ignored, as Shopify does: everything matches.
    assert search("favourite_colour:blue") == [vip, plain, phone_only]


def test_paging_through_a_filtered_query(sandbox_store):
    created = [
        sandbox_store.create_customer(
            {"email": f"f{n}@example.com", "tags": ["even" if n % 2 == 0 else "odd"]}
        )["id"]
        for n in range(9)
    ]
    evens, after = [], None
    while True:
        body = sandbox_store.graphql(PAGE, {"first": 2, "after": after, "query": "tag:even"})
        evens += _ids(body)
        info = body["data"]["customers"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert evens == created[0::2]


def test_sort_keys_name_and_created_at(sandbox_store):
    zed = sandbox_store.create_customer({"firstName": "Ann", "lastName": "Zed"})["id"]
    abel = sandbox_store.create_customer({"firstName": "Bob", "lastName": "Abel"})["id"]
    nameless = sandbox_store.create_customer({"email": "nobody@example.com"})["id"]
    by_name = _ids(sandbox_store.graphql(PAGE, {"first": 10, "sortKey": "NAME"}))
    assert by_name == [nameless, abel, zed]  # ", " sorts first (recorded)
    by_created = _ids(
        sandbox_store.graphql(PAGE, {"first": 10, "sortKey": "CREATED_AT", "reverse": True})
    )
    assert by_created == [nameless, abel, zed]


def test_deleted_customers_disappear_from_pages_and_reads(sandbox_store):
    created = _make(sandbox_store, 3)
    sandbox_store.delete_customer(created[1])
    assert _ids(sandbox_store.graphql(PAGE, {"first": 10})) == [created[0], created[2]]
    body = sandbox_store.graphql("query($id: ID!) { customer(id: $id) { id } }", {"id": created[1]})
    assert body["data"]["customer"] is None
    # Recorded: a missing node read costs 1.
    assert body["extensions"]["cost"]["actualQueryCost"] == 1


def test_invalid_cursor_is_an_error(sandbox_store):
    body = sandbox_store.graphql(PAGE, {"first": 1, "after": "not-a-cursor"})
    assert body["data"] is None
    assert "cursor" in body["errors"][0]["message"].lower()


def test_customers_count_ignores_the_query_like_shopify(sandbox_store):
    _make(sandbox_store, 3, tags=["a"])
    body = sandbox_store.graphql(
        '{ all: customersCount { count precision } tagged: customersCount(query: "tag:zzz") { count } }'
    )
    assert body["data"]["all"] == {"count": 3, "precision": "EXACT"}
    assert body["data"]["tagged"] == {"count": 3}
    [search] = body["extensions"]["search"]
    assert search["warnings"] == [
        {"field": "tag", "message": "Invalid search field for this query.", "code": "invalid_field"}
    ]
    assert (
        body["extensions"]["cost"]["requestedQueryCost"] == 20
    )  # 10 per customersCount (recorded)


def test_node_and_nodes_keep_positions_for_unknown_ids(sandbox_store):
    known = sandbox_store.create_customer({"email": "node@example.com"})["id"]
    unknown = "gid://shopify/Customer/999999999999999"
    body = sandbox_store.graphql(
        "query($ids: [ID!]!, $id: ID!) { nodes(ids: $ids) { id ... on Customer { email } } node(id: $id) { __typename id } }",
        {"ids": [unknown, known, unknown], "id": known},
    )
    assert body["data"]["nodes"] == [None, {"id": known, "email": "node@example.com"}, None]
    assert body["data"]["node"] == {"__typename": "Customer", "id": known}
    too_many = sandbox_store.graphql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [known] * 251}
    )
    assert too_many["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
