"""Store changes become signed REST-shaped webhooks; subscriptions through the Admin API."""

import base64
import hashlib
import hmac

import pytest
from django.conf import settings

from sandbox.tests.receiver import Receiver

CREATE = """
mutation($topic: WebhookSubscriptionTopic!, $url: URL!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {callbackUrl: $url, format: JSON}) {
    webhookSubscription { id topic format includeFields metafieldNamespaces filter
      endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } }
    userErrors { field message }
  }
}"""
LIST = """{ webhookSubscriptions(first: 10) { nodes { id topic } pageInfo { hasNextPage } } }"""
DELETE = """mutation($id: ID!) { webhookSubscriptionDelete(id: $id) {
  deletedWebhookSubscriptionId userErrors { field message } } }"""


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


def subscribe(shop, receiver, *topics):
    for topic in topics:
        body = shop.graphql(CREATE, {"topic": topic, "url": receiver.url})
        assert body["data"]["webhookSubscriptionCreate"]["userErrors"] == [], body


def wait_idle(harness, shop):
    status, body = harness.control(
        "POST", "/_sandbox/webhooks/wait", {"timeout": 10, "shop": shop.domain}
    )
    assert status == 200 and body == {"idle": True}


def test_subscription_lifecycle(sandbox_store, receiver):
    body = sandbox_store.graphql(CREATE, {"topic": "CUSTOMERS_UPDATE", "url": receiver.url})
    created = body["data"]["webhookSubscriptionCreate"]
    subscription = created["webhookSubscription"]
    assert created["userErrors"] == []
    assert subscription["topic"] == "CUSTOMERS_UPDATE" and subscription["format"] == "JSON"
    assert (subscription["includeFields"], subscription["metafieldNamespaces"]) == ([], [])
    assert subscription["filter"] is None
    assert subscription["endpoint"] == {
        "__typename": "WebhookHttpEndpoint",
        "callbackUrl": receiver.url,
    }
    listed = sandbox_store.graphql(LIST)["data"]["webhookSubscriptions"]["nodes"]
    assert listed == [{"id": subscription["id"], "topic": "CUSTOMERS_UPDATE"}]
    again = sandbox_store.graphql(CREATE, {"topic": "CUSTOMERS_UPDATE", "url": receiver.url})
    assert again["data"]["webhookSubscriptionCreate"]["userErrors"] == [
        {
            "field": ["webhookSubscription", "callbackUrl"],
            "message": "Address for this topic has already been taken",
        }
    ]
    deleted = sandbox_store.graphql(DELETE, {"id": subscription["id"]})["data"]
    assert deleted["webhookSubscriptionDelete"] == {
        "deletedWebhookSubscriptionId": subscription["id"],
        "userErrors": [],
    }
    gone = sandbox_store.graphql(DELETE, {"id": subscription["id"]})["data"]
    assert gone["webhookSubscriptionDelete"]["userErrors"] == [
        {"field": ["id"], "message": "Webhook subscription does not exist"}
    ]
    assert sandbox_store.graphql(LIST)["data"]["webhookSubscriptions"]["nodes"] == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("   ", "Address can't be blank"),
        ("ftp://example.com/hook", "Address protocol ftp:// is not supported"),
        ("https://", "Address is invalid"),
        ("https://acme.myshopify.com/hook", "Address cannot be a Shopify or an internal domain"),
    ],
)
def test_bad_callback_urls(sandbox_store, url, message):
    body = sandbox_store.graphql(CREATE, {"topic": "CUSTOMERS_CREATE", "url": url})
    assert body["data"]["webhookSubscriptionCreate"] == {
        "webhookSubscription": None,
        "userErrors": [{"field": ["webhookSubscription", "callbackUrl"], "message": message}],
    }


def test_topic_needs_its_scope(sandbox_server, sandbox_store, receiver):
    token = sandbox_server.issue_token(sandbox_store.domain, ["read_customers"])
    body = sandbox_store.graphql(
        CREATE, {"topic": "ORDERS_CREATE", "url": receiver.url}, token=token
    )
    [error] = body["data"]["webhookSubscriptionCreate"]["userErrors"]
    assert error["field"] == ["topic"] and "read_orders" in error["message"]


def test_customer_lifecycle_webhooks_are_signed_rest_payloads(
    sandbox_server, sandbox_store, receiver
):
    subscribe(sandbox_store, receiver, "CUSTOMERS_CREATE", "CUSTOMERS_UPDATE", "CUSTOMERS_DELETE")
    created = sandbox_store.create_customer(
        {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@example.com",
            "tags": ["vip", "b2b"],
            "addresses": [{"address1": "1 Rue", "city": "Paris", "countryCodeV2": "FR"}],
        }
    )
    sandbox_store.update_customer(created["id"], {"note": "likes tea"})
    sandbox_store.delete_customer(created["id"])
    requests = receiver.wait_for(3)
    assert [r["headers"]["x-shopify-topic"] for r in requests] == [
        "customers/create",
        "customers/update",
        "customers/delete",
    ]
    secret = settings.SHOPIFY_API_SECRET.encode()
    for request in requests:
        digest = hmac.new(secret, request["raw"], hashlib.sha256).digest()
        assert request["headers"]["x-shopify-hmac-sha256"] == base64.b64encode(digest).decode()
        assert request["headers"]["x-shopify-shop-domain"] == sandbox_store.domain
    number = int(created["id"].rsplit("/", 1)[1])
    body = requests[0]["json"]
    assert body["id"] == number and body["admin_graphql_api_id"] == created["id"]
    assert (body["email"], body["first_name"], body["state"]) == (
        "ada@example.com",
        "Ada",
        "disabled",
    )
    assert body["tags"] == "b2b, vip"
    assert body["default_address"]["city"] == "Paris" and body["default_address"]["default"] is True
    assert body["default_address"]["country"] == "France"
    assert body["email_marketing_consent"]["state"] == "not_subscribed"
    assert body["created_at"].endswith("+00:00")
    assert requests[1]["json"]["note"] == "likes tea"
    assert requests[2]["json"] == {
        "id": number,
        "phone": None,
        "addresses": [],
        "tax_exemptions": [],
        "email_marketing_consent": None,
        "sms_marketing_consent": None,
        "admin_graphql_api_id": created["id"],
    }


def test_order_webhooks(sandbox_store, receiver):
    subscribe(sandbox_store, receiver, "ORDERS_CREATE", "ORDERS_CANCELLED", "ORDERS_UPDATED")
    ada = sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
    order = sandbox_store.place_order(ada["id"], totalPrice="59.90")
    sandbox_store.cancel_order(order["id"])
    requests = receiver.wait_for(3)
    assert [r["headers"]["x-shopify-topic"] for r in requests] == [
        "orders/create",
        "orders/cancelled",
        "orders/updated",
    ]
    created = requests[0]["json"]
    assert created["admin_graphql_api_id"] == order["id"]
    assert created["total_price"] == "59.90" and created["customer"]["email"] == "ada@example.com"
    assert created["line_items"][0]["product_id"] == 1 and created["cancelled_at"] is None
    assert requests[1]["json"]["cancelled_at"] is not None


def test_state_and_consent_topics(sandbox_store, receiver):
    subscribe(
        sandbox_store,
        receiver,
        "CUSTOMERS_ENABLE",
        "CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE",
        "CUSTOMERS_MARKETING_CONSENT_UPDATE",
    )
    ada = sandbox_store.create_customer(
        {"firstName": "Ada", "email": "ada@example.com", "phone": "+14155550100"}
    )
    sandbox_store.update_customer(ada["id"], {"state": "ENABLED"})
    sandbox_store.update_customer(
        ada["id"],
        {
            "emailMarketingConsent": {
                "marketingState": "SUBSCRIBED",
                "marketingOptInLevel": "SINGLE_OPT_IN",
            }
        },
    )
    sandbox_store.update_customer(
        ada["id"],
        {
            "smsMarketingConsent": {
                "marketingState": "SUBSCRIBED",
                "marketingOptInLevel": "SINGLE_OPT_IN",
            }
        },
    )
    requests = receiver.wait_for(3)
    by_topic = {r["headers"]["x-shopify-topic"]: r["json"] for r in requests}
    assert by_topic["customers/enable"]["state"] == "enabled"
    email = by_topic["customers_email_marketing_consent/update"]
    assert email["email_address"] == "ada@example.com"
    assert email["email_marketing_consent"]["state"] == "subscribed"
    sms = by_topic["customers_marketing_consent/update"]
    assert sms["phone"] == "+14155550100" and sms["sms_marketing_consent"]["state"] == "subscribed"


def test_privacy_topics_go_to_the_compliance_url(sandbox_server, sandbox_store, receiver):
    ada = sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
    order = sandbox_store.place_order(ada["id"])
    path = f"/_sandbox/webhooks/{sandbox_store.domain}"
    status, body = sandbox_server.control(
        "POST", f"{path}/customers_redact", {"customerId": ada["id"]}
    )
    assert status == 400 and "compliance" in body["error"]
    for action in ("customers_data_request", "customers_redact"):
        status, _ = sandbox_server.control(
            "POST", f"{path}/{action}", {"customerId": ada["id"], "callbackUrl": receiver.url}
        )
        assert status == 200
    status, _ = sandbox_server.control("POST", f"{path}/shop_redact", {"callbackUrl": receiver.url})
    assert status == 200
    data_request, redact, shop_redact = receiver.wait_for(3)
    store = sandbox_store.store
    order_number = int(order["id"].rsplit("/", 1)[1])
    assert data_request["headers"]["x-shopify-topic"] == "customers/data_request"
    assert data_request["json"]["orders_requested"] == [order_number]
    assert data_request["json"]["customer"]["email"] == "ada@example.com"
    assert redact["json"] == {
        "shop_id": store.id,
        "shop_domain": store.domain,
        "customer": {
            "id": int(ada["id"].rsplit("/", 1)[1]),
            "email": "ada@example.com",
            "phone": None,
        },
        "orders_to_redact": [order_number],
    }
    assert shop_redact["json"] == {"shop_id": store.id, "shop_domain": store.domain}
    mergeable = sandbox_store.graphql(
        "query($id: ID!) { customer(id: $id) { mergeable { errorFields } } }", {"id": ada["id"]}
    )["data"]["customer"]["mergeable"]
    assert mergeable["errorFields"] == ["REDACTED_AT", "PENDING_DATA_REQUEST"]


def test_app_uninstalled_revokes_the_token(sandbox_server, sandbox_store, receiver):
    subscribe(sandbox_store, receiver, "APP_UNINSTALLED")
    status, body = sandbox_server.control(
        "POST", f"/_sandbox/webhooks/{sandbox_store.domain}/app_uninstalled", {}
    )
    assert status == 200 and body["revokedTokens"] == 1
    [request] = receiver.wait_for(1)
    assert request["headers"]["x-shopify-topic"] == "app/uninstalled"
    assert request["json"]["myshopify_domain"] == sandbox_store.domain
    status, _ = sandbox_server.graphql(
        sandbox_store.domain, sandbox_store.token, "{ shop { name } }"
    )
    assert status == 401


def test_control_api_faults_and_delivery_log(sandbox_server, sandbox_store, receiver):
    subscribe(sandbox_store, receiver, "CUSTOMERS_CREATE")
    status, _ = sandbox_server.control(
        "POST", "/_sandbox/webhooks/faults", {"drop": 1, "duplicate": 1}
    )
    assert status == 200
    sandbox_store.create_customer({"firstName": "Dropped"})
    sandbox_store.create_customer({"firstName": "Twice"})
    wait_idle(sandbox_server, sandbox_store)
    assert [r["json"]["first_name"] for r in receiver.requests] == ["Twice", "Twice"]
    status, body = sandbox_server.control(
        "GET", f"/_sandbox/webhooks/deliveries?shop={sandbox_store.domain}&topic=customers/create"
    )
    outcomes = [(e["body"]["first_name"], e["outcome"]) for e in body["deliveries"]]
    assert outcomes == [("Dropped", "dropped"), ("Twice", "delivered"), ("Twice", "delivered")]
    status, body = sandbox_server.control("POST", "/_sandbox/webhooks/faults", {"explode": 1})
    assert status == 400 and "explode" in body["error"]


def test_settings_compress_retries_and_set_the_compliance_url(sandbox_server, sandbox_store):
    failing = Receiver(statuses=[503, 500])
    status, before = sandbox_server.control("POST", "/_sandbox/webhooks/settings", {})
    try:
        status, body = sandbox_server.control(
            "POST",
            "/_sandbox/webhooks/settings",
            {"timeFactor": 0.0001, "complianceUrl": failing.url},
        )
        assert status == 200 and body["timeFactor"] == 0.0001
        subscribe(sandbox_store, failing, "CUSTOMERS_CREATE")
        sandbox_store.create_customer({"firstName": "Retried"})
        requests = failing.wait_for(3)
        assert len({r["headers"]["x-shopify-webhook-id"] for r in requests}) == 1
        wait_idle(sandbox_server, sandbox_store)
        _, log = sandbox_server.control(
            "GET", f"/_sandbox/webhooks/deliveries?shop={sandbox_store.domain}"
        )
        assert [e["outcome"] for e in log["deliveries"]] == ["retrying", "retrying", "delivered"]
        path = f"/_sandbox/webhooks/{sandbox_store.domain}/shop_redact"
        assert sandbox_server.control("POST", path, {})[0] == 200
        assert failing.wait_for(4)[-1]["headers"]["x-shopify-topic"] == "shop/redact"
        status, body = sandbox_server.control(
            "POST", "/_sandbox/webhooks/settings", {"timeFactor": -1}
        )
        assert status == 400 and "timeFactor" in body["error"]
    finally:
        sandbox_server.control(
            "POST",
            "/_sandbox/webhooks/settings",
            {"timeFactor": before["timeFactor"], "complianceUrl": before["complianceUrl"]},
        )
        failing.close()


def test_order_delete_webhook_and_reads(sandbox_server, sandbox_store, receiver):
    subscribe(sandbox_store, receiver, "ORDERS_DELETE", "CUSTOMERS_UPDATE")
    ada = sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
    order = sandbox_store.place_order(ada["id"], totalPrice="20.00")["id"]
    receiver.wait_for(1)  # customers/update for the order placed
    status, body = sandbox_server.control(
        "DELETE", f"/_sandbox/stores/{sandbox_store.domain}/orders/{order.rsplit('/', 1)[1]}"
    )
    assert status == 200 and body == {"deleted": order}
    requests = receiver.wait_for(3)
    deleted = next(r for r in requests if r["headers"]["x-shopify-topic"] == "orders/delete")
    assert deleted["json"] == {"id": int(order.rsplit("/", 1)[1])}
    read = sandbox_store.graphql(
        "query($o: ID!, $c: ID!) { order(id: $o) { id } customer(id: $c) { numberOfOrders } }",
        {"o": order, "c": ada["id"]},
    )["data"]
    assert read == {"order": None, "customer": {"numberOfOrders": "0"}}
    status, body = sandbox_server.control(
        "DELETE", f"/_sandbox/stores/{sandbox_store.domain}/orders/{order.rsplit('/', 1)[1]}"
    )
    assert status == 400 and "does not exist" in body["error"]
