"""tagsAdd / tagsRemove, customerSendAccountInviteEmail and segments over real HTTP."""

import time

import pytest

from sandbox.tests.receiver import Receiver

TAGS_ADD = """mutation($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) {
  node { id ... on Customer { tags updatedAt } } userErrors { field message } } }"""
TAGS_REMOVE = """mutation($id: ID!, $tags: [String!]!) { tagsRemove(id: $id, tags: $tags) {
  node { id ... on Customer { tags updatedAt } } userErrors { field message } } }"""
INVITE = """mutation($id: ID!) { customerSendAccountInviteEmail(customerId: $id) {
  customer { id state } userErrors { code field message } } }"""
SEGMENT_CREATE = """mutation($name: String!, $query: String!) { segmentCreate(name: $name, query: $query) {
  segment { id name query creationDate lastEditDate } userErrors { field message } } }"""
SEGMENTS = """{ segments(first: 10) { nodes { id name query } } }"""


def add(shop, customer_id, tags):
    return shop.graphql(TAGS_ADD, {"id": customer_id, "tags": tags})["data"]["tagsAdd"]


def remove(shop, customer_id, tags):
    return shop.graphql(TAGS_REMOVE, {"id": customer_id, "tags": tags})["data"]["tagsRemove"]


def updated_ms(shop, customer_id):
    return shop.store.customers[int(customer_id.rsplit("/", 1)[1])].updated_at


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


def subscribe(shop, receiver, *topics):
    for topic in topics:
        body = shop.graphql(
            "mutation($t: WebhookSubscriptionTopic!, $u: URL!) { webhookSubscriptionCreate("
            "topic: $t, webhookSubscription: {callbackUrl: $u}) { userErrors { message } } }",
            {"t": topic, "u": receiver.url},
        )
        assert body["data"]["webhookSubscriptionCreate"]["userErrors"] == []


def test_tags_add_normalises_bumps_updated_at_and_notifies(sandbox_server, sandbox_store, receiver):
    subscribe(sandbox_store, receiver, "CUSTOMER_TAGS_ADDED", "CUSTOMERS_UPDATE")
    ada = sandbox_store.create_customer({"firstName": "Ada", "tags": ["VIP"]})["id"]
    before = updated_ms(sandbox_store, ada)
    result = add(sandbox_store, ada, ["vip, Newsletter ", " zeta", ""])
    assert result["userErrors"] == []
    assert result["node"]["tags"] == ["Newsletter", "VIP", "zeta"]
    assert updated_ms(sandbox_store, ada) > before
    requests = receiver.wait_for(2)
    by_topic = {r["headers"]["x-shopify-topic"]: r["json"] for r in requests}
    assert by_topic["customer.tags_added"]["customerId"] == ada
    assert by_topic["customer.tags_added"]["tags"] == ["Newsletter", "zeta"]
    assert by_topic["customers/update"]["tags"] == "Newsletter, VIP, zeta"


def test_tags_are_idempotent(sandbox_server, sandbox_store, receiver):
    ada = sandbox_store.create_customer({"firstName": "Ada", "tags": ["vip"]})["id"]
    subscribe(
        sandbox_store, receiver, "CUSTOMER_TAGS_ADDED", "CUSTOMER_TAGS_REMOVED", "CUSTOMERS_UPDATE"
    )
    before = updated_ms(sandbox_store, ada)
    assert add(sandbox_store, ada, ["VIP"])["node"]["tags"] == ["vip"]
    assert remove(sandbox_store, ada, ["absent"])["node"]["tags"] == ["vip"]
    time.sleep(0.2)
    assert updated_ms(sandbox_store, ada) == before
    assert receiver.requests == []
    assert remove(sandbox_store, ada, ["Vip"])["node"]["tags"] == []
    assert remove(sandbox_store, ada, ["vip"])["node"]["tags"] == []
    requests = receiver.wait_for(2)
    time.sleep(0.2)
    assert sorted(r["headers"]["x-shopify-topic"] for r in receiver.requests) == [
        "customer.tags_removed",
        "customers/update",
    ]
    removed = next(
        r for r in requests if r["headers"]["x-shopify-topic"] == "customer.tags_removed"
    )
    assert removed["json"]["tags"] == ["vip"]


def test_tag_limits(sandbox_store):
    ada = sandbox_store.create_customer(
        {"firstName": "Ada", "tags": [f"t{n}" for n in range(250)]}
    )["id"]
    assert add(sandbox_store, ada, ["one-too-many"]) == {
        "node": None,
        "userErrors": [{"field": ["tags"], "message": "Tags cannot be more than 250"}],
    }
    bob = sandbox_store.create_customer({"firstName": "Bob"})["id"]
    assert add(sandbox_store, bob, ["x" * 256])["userErrors"] == [
        {"field": ["tags"], "message": "Tags is too long (maximum is 255 characters)"}
    ]
    assert add(sandbox_store, "gid://shopify/Customer/999999999", ["a"])["userErrors"] == [
        {"field": ["id"], "message": "Customer does not exist"}
    ]


def test_invite_moves_disabled_to_invited(sandbox_store):
    ada = sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})["id"]
    result = sandbox_store.graphql(INVITE, {"id": ada})["data"]["customerSendAccountInviteEmail"]
    assert result == {"customer": {"id": ada, "state": "INVITED"}, "userErrors": []}
    again = sandbox_store.graphql(INVITE, {"id": ada})["data"]["customerSendAccountInviteEmail"]
    assert again["customer"]["state"] == "INVITED"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"email": "e@example.com", "state": "ENABLED"}, "Customer account is already enabled"),
        (
            {"email": "d@example.com", "state": "DECLINED"},
            "Customer has declined the account invitation",
        ),
        ({"phone": "+14155550100"}, "Customer must have an email address to be invited"),
    ],
)
def test_invite_refusals(sandbox_store, values, message):
    customer = sandbox_store.create_customer({"firstName": "X", **values})["id"]
    result = sandbox_store.graphql(INVITE, {"id": customer})["data"][
        "customerSendAccountInviteEmail"
    ]
    assert result == {
        "customer": None,
        "userErrors": [{"code": "INVALID", "field": ["customerId"], "message": message}],
    }


def test_no_invites_with_new_customer_accounts(sandbox_server):
    store = sandbox_server.create_store(customerAccountsVersion="NEW_CUSTOMER_ACCOUNTS")
    try:
        token = sandbox_server.issue_token(store.domain)
        customer = store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
        gid = f"gid://shopify/Customer/{customer.id}"
        _, body = sandbox_server.graphql(store.domain, token, INVITE, {"id": gid})
        [error] = body["data"]["customerSendAccountInviteEmail"]["userErrors"]
        assert error["code"] == "INVALID" and "legacy customer accounts" in error["message"]
        assert store.customers[customer.id].state == "DISABLED"
    finally:
        sandbox_server.sandbox.delete_store(store.domain)


def test_segments(sandbox_store):
    created = sandbox_store.graphql(
        SEGMENT_CREATE, {"name": "VIPs", "query": "customer_tags CONTAINS 'vip'"}
    )["data"]["segmentCreate"]
    assert created["userErrors"] == []
    segment = created["segment"]
    assert segment["id"].startswith("gid://shopify/Segment/")
    assert segment["creationDate"] == segment["lastEditDate"]
    duplicate = sandbox_store.graphql(
        SEGMENT_CREATE, {"name": "vips", "query": "customer_tags CONTAINS 'x'"}
    )["data"]["segmentCreate"]
    assert duplicate["userErrors"] == [
        {"field": ["name"], "message": "Name has already been taken"}
    ]
    broken = sandbox_store.graphql(
        SEGMENT_CREATE, {"name": "Broken", "query": "customer_tagz CONTAINS 'vip'"}
    )["data"]["segmentCreate"]
    assert broken["segment"] is None
    [error] = broken["userErrors"]
    assert error["field"] == ["query"] and error["message"].startswith("Line 1 Column 1:")
    nodes = sandbox_store.graphql(SEGMENTS)["data"]["segments"]["nodes"]
    assert nodes == [{"id": segment["id"], "name": "VIPs", "query": "customer_tags CONTAINS 'vip'"}]
    read = sandbox_store.graphql(
        "query($id: ID!) { segment(id: $id) { name } }", {"id": segment["id"]}
    )["data"]["segment"]
    assert read == {"name": "VIPs"}


def test_merchant_tag_edit_sends_tag_topics_with_one_event_id(sandbox_store, receiver):
    ada = sandbox_store.create_customer({"firstName": "Ada", "tags": ["old", "keep"]})["id"]
    subscribe(
        sandbox_store, receiver, "CUSTOMER_TAGS_ADDED", "CUSTOMER_TAGS_REMOVED", "CUSTOMERS_UPDATE"
    )
    sandbox_store.update_customer(ada, {"tags": ["keep", "new"]})
    requests = receiver.wait_for(3)
    by_topic = {r["headers"]["x-shopify-topic"]: r for r in requests}
    assert by_topic["customer.tags_added"]["json"]["tags"] == ["new"]
    assert by_topic["customer.tags_removed"]["json"]["tags"] == ["old"]
    assert len({r["headers"]["x-shopify-event-id"] for r in requests}) == 1
