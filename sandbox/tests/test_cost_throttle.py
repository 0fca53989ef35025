"""Shopify's calculated query cost and the leaky bucket (small buckets so tests stay fast)."""

CUSTOMERS = "{ customers(first: 10) { nodes { id defaultAddress { city } } } }"


def test_requested_cost_is_charged_first_and_the_difference_refunded(sandbox_store):
    sandbox_store.create_customer({"email": "only@example.com"})
    body = sandbox_store.graphql(CUSTOMERS)
    cost = body["extensions"]["cost"]
    # connection: 2 + 10 nodes x (1 node + 1 defaultAddress)
    assert cost["requestedQueryCost"] == 22
    # one customer, no address: 2 + 1 + (defaultAddress null = 1)
    assert cost["actualQueryCost"] == 4
    assert cost["throttleStatus"]["currentlyAvailable"] in (1996, 1997, 1998)  # refilling meanwhile


def test_throttled_when_the_bucket_is_short(sandbox_store):
    sandbox_store.configure(bucketSize=30, restoreRate=1)
    sandbox_store.set_bucket(21)
    body = sandbox_store.graphql(CUSTOMERS)  # asks for 22
    assert "data" not in body
    assert body["errors"] == [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 22
    assert cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["maximumAvailable"] == 30.0
    assert cost["throttleStatus"]["restoreRate"] == 1.0
    assert 21 <= cost["throttleStatus"]["currentlyAvailable"] <= 22
    # A cheaper query still fits: the throttled call took nothing.
    shop = sandbox_store.graphql("{ shop { name } }")
    assert shop["data"]["shop"]["name"]
    assert shop["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] >= 20


def test_refund_makes_room_for_the_next_call(sandbox_store):
    sandbox_store.configure(bucketSize=40, restoreRate=0.001)
    first = sandbox_store.graphql(CUSTOMERS)  # requested 22, actual 2 (empty store)
    assert first["extensions"]["cost"]["actualQueryCost"] == 2
    assert first["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 38
    # Without the refund only 18 would be left and this one (22) would be throttled.
    second = sandbox_store.graphql(CUSTOMERS)
    assert "errors" not in second
    assert second["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 36


def test_single_query_over_the_max_cost_is_refused(sandbox_store):
    body = sandbox_store.graphql(
        "{ customers(first: 250) { nodes { id defaultAddress { id } lastOrder { id } amountSpent { amount } } } }"
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 1002
    assert error["extensions"]["maxCost"] == 1000
    assert error["message"].startswith(
        "Query cost is 1002, which exceeds the single query max cost limit (1000)."
    )
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert "data" not in body


def test_nested_connections_multiply(sandbox_store):
    body = sandbox_store.graphql(
        "{ customers(first: 5) { edges { node { id orders(first: 10) { nodes { id name } } } } } }"
    )
    # 2 + 5 x (1 + (2 + 10 x 1))
    assert body["extensions"]["cost"]["requestedQueryCost"] == 67


def test_buckets_are_per_shop(sandbox_server, sandbox_store):
    other = sandbox_server.create_store()
    other_token = sandbox_server.issue_token(other.domain)
    sandbox_store.configure(bucketSize=10, restoreRate=0.001)
    sandbox_store.set_bucket(0)
    assert (
        sandbox_store.graphql("{ shop { name } }")["errors"][0]["extensions"]["code"] == "THROTTLED"
    )
    status, body = sandbox_server.graphql(other.domain, other_token, "{ shop { name } }")
    assert status == 200 and "errors" not in body
    sandbox_server.sandbox.delete_store(other.domain)
