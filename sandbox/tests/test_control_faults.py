"""The control API (act as the merchant) and fault injection, over real HTTP."""

import json
import socket
import time
from urllib.parse import quote

import pytest

from sandbox.testing import http_request

CUSTOMER_READ = """query($id: ID!) { customer(id: $id) {
  id displayName email phone state tags note numberOfOrders amountSpent { amount currencyCode }
  defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
  defaultPhoneNumber { phoneNumber marketingState }
  emailMarketingConsent { marketingState } smsMarketingConsent { marketingState }
  defaultAddress { address1 city countryCodeV2 country } addresses { id }
  lastOrder { name } updatedAt canDelete
  orders(first: 5) { nodes { name cancelledAt lineItems(first: 5) { nodes { quantity product { id tags } } } } }
  mergeable { isMergeable errorFields reason }
} }"""


def test_store_settings_are_served_by_shop(sandbox_server):
    store = sandbox_server.create_store(
        currency="EUR",
        ianaTimezone="Europe/Berlin",
        country="DE",
        customerAccountsVersion="NEW_CUSTOMER_ACCOUNTS",
    )
    token = sandbox_server.issue_token(store.domain)
    _, body = sandbox_server.graphql(
        store.domain,
        token,
        "{ shop { currencyCode ianaTimezone myshopifyDomain billingAddress { countryCodeV2 } customerAccountsV2 { customerAccountsVersion } } }",
    )
    assert body["data"]["shop"] == {
        "currencyCode": "EUR",
        "ianaTimezone": "Europe/Berlin",
        "myshopifyDomain": store.domain,
        "billingAddress": {"countryCodeV2": "DE"},
        "customerAccountsV2": {"customerAccountsVersion": "NEW_CUSTOMER_ACCOUNTS"},
    }
    status, data = sandbox_server.control(
        "PATCH", f"/_sandbox/stores/{store.domain}", {"customerAccountsVersion": "CLASSIC"}
    )
    assert status == 200 and data["customerAccountsVersion"] == "CLASSIC"
    status, _ = sandbox_server.control("DELETE", f"/_sandbox/stores/{store.domain}")
    assert status == 200
    status, _ = sandbox_server.graphql(store.domain, token, "{ shop { name } }")
    assert status == 404


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"domain": "not a domain"}, "shop domain"),
        ({"domain": "ok-shop.myshopify.com", "currency": "euro"}, "currency"),
        ({"domain": "ok-shop.myshopify.com", "ianaTimezone": "Mars/Olympus"}, "IANA"),
        (
            {"domain": "ok-shop.myshopify.com", "customerAccountsVersion": "V3"},
            "customerAccountsVersion",
        ),
        ({"domain": "ok-shop.myshopify.com", "config": {"bucketSize": -1}}, "bucketSize"),
        ({"domain": "ok-shop.myshopify.com", "colour": "red"}, "colour"),
    ],
)
def test_bad_store_input_is_named_and_changes_nothing(sandbox_server, body, fragment):
    before = set(sandbox_server.sandbox.stores)
    status, data = sandbox_server.control("POST", "/_sandbox/stores", body)
    assert status == 400
    assert fragment in data["error"]
    assert set(sandbox_server.sandbox.stores) == before


def test_merchant_actions_show_up_in_the_api(sandbox_store):
    customer = sandbox_store.create_customer(
        {
            "firstName": "Anna",
            "lastName": "Müller",
            "defaultEmailAddress": {
                "emailAddress": " Anna.Mueller@Example.com ",
                "marketingState": "SUBSCRIBED",
                "marketingOptInLevel": "SINGLE_OPT_IN",
                "marketingUpdatedAt": "2024-03-01T10:00:00Z",
            },
            "phone": "+1 (613) 450-5293",
            "tags": ["vip, newsletter", "VIP"],
            "addresses": [
                {
                    "address1": "Hauptstraße 5",
                    "city": "Berlin",
                    "countryCodeV2": "DE",
                    "zip": "10115",
                }
            ],
        }
    )
    assert customer["tags"] == ["newsletter", "vip"]
    order = sandbox_store.place_order(
        customer["id"],
        totalPrice="59.90",
        lineItems=[
            {"quantity": 2, "productId": "gid://shopify/Product/300001", "productTags": ["shoes"]}
        ],
    )
    second = sandbox_store.place_order(customer["id"], totalPrice="10.00")
    read = sandbox_store.graphql(CUSTOMER_READ, {"id": customer["id"]})["data"]["customer"]
    assert read["displayName"] == "Anna Müller"
    assert read["email"] == "Anna.Mueller@Example.com"  # whitespace removed, case kept (recorded)
    assert read["phone"] == "+16134505293"  # E.164 (recorded)
    assert read["defaultEmailAddress"] == {
        "emailAddress": "Anna.Mueller@Example.com",
        "marketingState": "SUBSCRIBED",
        "marketingOptInLevel": "SINGLE_OPT_IN",
        "marketingUpdatedAt": "2024-03-01T10:00:00Z",
    }
    assert read["smsMarketingConsent"] == {"marketingState": "NOT_SUBSCRIBED"}
    assert read["numberOfOrders"] == "2"
    assert read["amountSpent"] == {"amount": "69.9", "currencyCode": "USD"}
    assert read["canDelete"] is False
    assert read["defaultAddress"] == {
        "address1": "Hauptstraße 5",
        "city": "Berlin",
        "countryCodeV2": "DE",
        "country": "Germany",
    }
    assert read["orders"]["nodes"][0]["lineItems"]["nodes"] == [
        {"quantity": 2, "product": {"id": "gid://shopify/Product/300001", "tags": ["shoes"]}}
    ]
    assert read["mergeable"] == {"isMergeable": True, "errorFields": [], "reason": None}

    cancelled = sandbox_store.cancel_order(second["id"])
    assert cancelled["cancelledAt"] is not None
    read = sandbox_store.graphql(CUSTOMER_READ, {"id": customer["id"]})["data"]["customer"]
    assert read["numberOfOrders"] == "1" and read["amountSpent"]["amount"] == "59.9"
    assert read["lastOrder"]["name"] == order["name"]

    before = read["updatedAt"]
    time.sleep(1.05)
    updated = sandbox_store.update_customer(
        customer["id"],
        {"note": "called twice", "state": "ENABLED", "mergeBlockers": {"giftCards": 1}},
    )
    assert updated["note"] == "called twice"
    read = sandbox_store.graphql(CUSTOMER_READ, {"id": customer["id"]})["data"]["customer"]
    assert read["updatedAt"] > before
    assert read["state"] == "ENABLED"
    assert read["mergeable"] == {
        "isMergeable": False,
        "errorFields": ["GIFT_CARDS"],
        "reason": "Anna Müller has gift cards and can\u2019t be merged.",
    }


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({}, "A name, phone number, or email address must be present"),
        ({"email": "foo@bar"}, "Email is invalid"),
        ({"email": "a@example.com", "state": "ASLEEP"}, "state must be one of"),
        (
            {"email": "a@example.com", "note": "x" * 5001},
            "Note is too long (maximum is 5000 characters)",
        ),
        (
            {"email": "a@example.com", "tags": [f"t{n}" for n in range(251)]},
            "Tags cannot be more than 250",
        ),
        ({"email": "a@example.com", "shoeSize": 44}, "shoeSize"),
        ({"email": "a@example.com", "phone": "abc"}, "Phone is invalid"),
    ],
)
def test_bad_customer_input_is_refused_and_changes_nothing(sandbox_store, values, fragment):
    status, data = sandbox_store.harness.control(
        "POST", f"/_sandbox/stores/{sandbox_store.domain}/customers", values
    )
    assert status == 400
    assert fragment in data["error"]
    assert sandbox_store.store.counts()["customers"] == 0


def test_failed_update_leaves_the_customer_unchanged(sandbox_store):
    customer = sandbox_store.create_customer({"email": "keep@example.com", "note": "original"})
    status, data = sandbox_store.harness.control(
        "PATCH",
        f"/_sandbox/stores/{sandbox_store.domain}/customers/{quote(customer['id'], safe='')}",
        {"note": "new", "state": "NOPE"},
    )
    assert status == 400
    assert "state must be one of" in data["error"]
    stored = sandbox_store.harness.control(
        "GET", f"/_sandbox/stores/{sandbox_store.domain}/customers/{quote(customer['id'], safe='')}"
    )[1]
    assert stored["note"] == "original"
    assert stored["updatedAt"] == customer["updatedAt"]


def test_observers_hear_every_merchant_change(sandbox_server, sandbox_store):
    heard = []
    observer = lambda change: heard.append((change.kind, change.customer_id))  # noqa: E731
    sandbox_server.sandbox.observers.append(observer)
    try:
        customer = sandbox_store.create_customer({"email": "watch@example.com"})
        number = int(customer["id"].rsplit("/", 1)[1])
        sandbox_store.update_customer(customer["id"], {"note": "n"})
        order = sandbox_store.place_order(customer["id"])
        sandbox_store.cancel_order(order["id"])
        sandbox_store.delete_customer(customer["id"])
    finally:
        sandbox_server.sandbox.observers.remove(observer)
    assert heard == [
        ("customer.created", number),
        ("customer.updated", number),
        ("order.created", number),
        ("customer.updated", number),
        ("order.cancelled", number),
        ("customer.updated", number),
        ("customer.deleted", number),
    ]


def test_error_fault_answers_5xx_then_recovers(sandbox_server, sandbox_store):
    sandbox_server.add_fault(kind="error", status=502, count=2, shop=sandbox_store.domain)
    first = sandbox_server.graphql(sandbox_store.domain, sandbox_store.token, "{ shop { name } }")
    second = sandbox_server.graphql(sandbox_store.domain, sandbox_store.token, "{ shop { name } }")
    third = sandbox_server.graphql(sandbox_store.domain, sandbox_store.token, "{ shop { name } }")
    assert [first[0], second[0], third[0]] == [502, 502, 200]
    assert first[1] == {"errors": "Bad Gateway"}
    assert third[1]["data"]["shop"]["name"]


def test_throttle_fault_answers_429_with_retry_after(sandbox_server, sandbox_store):
    sandbox_server.add_fault(kind="throttle", retry_after=3, path_contains="/graphql.json")
    status, headers, raw = http_request(
        "POST",
        sandbox_store.graphql_url,
        {"query": "{ shop { name } }"},
        {"X-Shopify-Access-Token": sandbox_store.token},
    )
    assert status == 429
    assert headers["Retry-After"] == "3.0"
    assert "Exceeded" in json.loads(raw)["errors"]


def test_slow_fault_delays_the_answer_and_is_logged(sandbox_server, sandbox_store):
    sandbox_server.add_fault(kind="slow", delay_seconds=0.4, shop=sandbox_store.domain)
    slowed = sandbox_store.graphql("{ shop { name } }")
    normal = sandbox_store.graphql("{ shop { name } }")
    assert slowed["data"]["shop"]["name"] and normal["data"]["shop"]["name"]
    logged = [
        entry
        for entry in sandbox_server.control("GET", "/_sandbox/requests")[1]["requests"]
        if entry["path"].startswith(f"/store/{sandbox_store.domain}/")
    ]
    # The sandbox records the delay it applied (no wall-clock assertion: the machine is shared).
    assert [(entry["fault"] or {}).get("kind") for entry in logged] == ["slow", None]
    assert logged[0]["fault"]["delay_seconds"] == 0.4 and logged[0]["status"] == 200
    assert sandbox_server.control("GET", "/_sandbox/faults")[1]["faults"] == []


def test_drop_fault_closes_the_connection_without_an_answer(sandbox_server, sandbox_store):
    sandbox_server.add_fault(kind="drop")
    payload = json.dumps({"query": "{ shop { name } }"}).encode()
    path = f"/store/{sandbox_store.domain}/admin/api/2025-01/graphql.json"
    with socket.create_connection(
        (sandbox_server.server.host, sandbox_server.server.port), timeout=5
    ) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-Shopify-Access-Token: {sandbox_store.token}\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        assert conn.recv(1024) == b""  # closed, no status line
    assert sandbox_store.graphql("{ shop { name } }")["data"]["shop"]["name"]
    logged = sandbox_server.control("GET", "/_sandbox/requests")[1]["requests"]
    assert any(entry["dropped"] for entry in logged)


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        ({"kind": "explode"}, "kind"),
        ({"kind": "error", "status": 404}, "5xx"),
        ({"kind": "slow", "delay_seconds": -1}, "delay_seconds"),
    ],
)
def test_bad_faults_are_refused(sandbox_server, fault, fragment):
    status, data = sandbox_server.control("POST", "/_sandbox/faults", fault)
    assert status == 400 and fragment in data["error"]
    assert sandbox_server.control("GET", "/_sandbox/faults")[1]["faults"] == []
