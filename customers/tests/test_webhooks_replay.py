"""Webhooks the sandbox itself sends, replayed shuffled and duplicated, converge to the store.

The sandbox's webhook hub delivers every topic the mirror handles (customers/*, consent, tags,
orders/*, customers/merge) over HTTP to a small recording endpoint; the recorded requests (raw
body, Shopify's own HMAC and headers) are then posted to our intake in several shuffled orders,
some repeated with the same webhook id (Shopify's retry) and some re-sent under a new id.
"""

import json
import random
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django_q.conf import Conf

from customers.models import Customer, Order
from customers.tests.sandbox_compare import mirror_differences, shop_for
from sandbox.webhook_events import hub_for
from tenants.webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

TOPICS = [
    "customers/create", "customers/update", "customers/delete", "customers/enable",
    "customers/disable", "customers/merge", "customers_email_marketing_consent/update",
    "customers_marketing_consent/update", "customer.tags_added", "customer.tags_removed",
    "orders/create", "orders/updated", "orders/cancelled", "orders/delete",
]  # fmt: skip


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def recorded_webhooks(sandbox_server, sandbox_store):
    """Subscribe the store to every mirrored topic, pointing at a recording endpoint."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub = hub_for(sandbox_server.sandbox)
    url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    for topic in TOPICS:
        hub.subscribe(shop=sandbox_store.domain, topic=topic, callback_url=url)
    try:
        yield hub, server.requests
    finally:
        server.shutdown()


def _merge(sandbox_server, sandbox_store, one: int, two: int) -> None:
    """Merge two customers through Shopify's API and wait for the job to finish."""
    sandbox_server.control(
        "POST",
        f"/_sandbox/merges/{sandbox_store.domain}/settings",
        {"delay": 0.05, "startDelay": 0},
    )
    body = sandbox_store.graphql(
        "mutation($one: ID!, $two: ID!) { customerMerge(customerOneId: $one, customerTwoId: $two)"
        " { resultingCustomerId job { id done } userErrors { field message } } }",
        {"one": f"gid://shopify/Customer/{one}", "two": f"gid://shopify/Customer/{two}"},
    )
    merge = body["data"]["customerMerge"]
    assert merge["userErrors"] == [], merge
    for _ in range(200):
        status = sandbox_store.graphql(
            "query($id: ID!) { customerMergeJobStatus(jobId: $id) { status } }",
            {"id": merge["job"]["id"]},
        )["data"]["customerMergeJobStatus"]["status"]
        if status in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.05)
    assert status == "COMPLETED"


def _store_history(sandbox_server, sandbox_store) -> dict[str, int]:
    """Merchant actions covering every mirrored topic; returns the ids the asserts need."""
    store = sandbox_store
    ada = int(store.create_customer({"firstName": "Ada", "email": "ada@example.com",
                                     "tags": ["vip"]})["id"].rsplit("/", 1)[1])  # fmt: skip
    bob = int(store.create_customer({"firstName": "Bob", "email": "bob@example.com",
                                     "phone": "+4915112345678"})["id"].rsplit("/", 1)[1])  # fmt: skip
    cy = int(store.create_customer({"firstName": "Cy", "email": "cy@example.com"})["id"]
             .rsplit("/", 1)[1])  # fmt: skip
    ada2 = int(store.create_customer({"firstName": "Ada", "lastName": "Lovelace",
                                      "email": "ada.l@example.com"})["id"].rsplit("/", 1)[1])  # fmt: skip
    store.update_customer(ada, {"lastName": "King", "note": "prefers email", "state": "ENABLED"})
    store.update_customer(ada, {"tags": ["vip", "newsletter"]})  # tags_added
    store.update_customer(bob, {"tags": ["wholesale"]})
    store.update_customer(bob, {"tags": []})  # tags_removed
    store.update_customer(bob, {"emailMarketingConsent": {"marketingState": "SUBSCRIBED",
                                                          "marketingOptInLevel": "SINGLE_OPT_IN"}})  # fmt: skip
    store.update_customer(bob, {"smsMarketingConsent": {"marketingState": "SUBSCRIBED",
                                                        "marketingOptInLevel": "SINGLE_OPT_IN"}})  # fmt: skip
    store.update_customer(ada, {"state": "DISABLED"})  # customers/disable
    line = {"quantity": 1, "productId": "gid://shopify/Product/300", "productTags": ["shoes"]}
    first = int(
        store.place_order(ada, totalPrice="25.00", lineItems=[line])["id"].rsplit("/", 1)[1]
    )
    store.place_order(ada2, totalPrice="40.00", lineItems=[line])
    bobs = int(store.place_order(bob, totalPrice="99.00")["id"].rsplit("/", 1)[1])
    store.cancel_order(bobs)
    dropped = int(store.place_order(cy, totalPrice="5.00")["id"].rsplit("/", 1)[1])
    store._control("DELETE", f"/orders/{dropped}")  # orders/delete
    store.update_customer(cy, {"firstName": "Cyrus"})
    store.delete_customer(cy)
    _merge(sandbox_server, sandbox_store, ada, ada2)
    return {"ada": ada, "ada2": ada2, "cy": cy, "first_order": first}


def _deliver(client, headers: dict, body: bytes, webhook_id: str | None = None):
    meta = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in headers.items()
        if name.lower().startswith("x-shopify-")
    }
    if webhook_id is not None:
        meta["HTTP_X_SHOPIFY_WEBHOOK_ID"] = webhook_id
    response = client.post("/webhooks/shopify/", data=body, content_type="application/json", **meta)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("seed", [3, 17])
def test_sandbox_webhooks_shuffled_with_duplicates_converge_to_the_store(
    client,
    sandbox_server,
    sandbox_store,
    recorded_webhooks,
    seed,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    hub, requests = recorded_webhooks
    ids = _store_history(sandbox_server, sandbox_store)
    assert hub.wait_idle(timeout=30, shop=sandbox_store.domain)
    sent = {headers["X-Shopify-Topic"] for headers, _ in requests}
    assert set(TOPICS) <= sent, f"the sandbox did not send {sorted(set(TOPICS) - sent)}"

    shop = shop_for(sandbox_store, country_code="DE")
    rng = random.Random(seed)
    retries = [(h, b, None) for h, b in rng.sample(requests, 8)]  # same webhook id again
    resent = [(h, b, str(uuid.uuid4())) for h, b in rng.sample(requests, 8)]  # a new id
    deliveries = [(h, b, None) for h, b in requests] + retries + resent
    rng.shuffle(deliveries)
    monkeypatch.setattr(Conf, "SYNC", True)
    for headers, body, webhook_id in deliveries:
        with django_capture_on_commit_callbacks(execute=True):
            _deliver(client, headers, body, webhook_id)

    stored = WebhookDelivery.all_shops.filter(shop=shop)
    assert stored.count() == len(requests) + len(resent)  # the retries were recognised
    assert list(stored.exclude(status="processed").values_list("topic", "last_error")) == []
    assert mirror_differences(shop, sandbox_store.store) == []
    kept, gone = sorted(
        (ids["ada"], ids["ada2"]), key=lambda i: i not in sandbox_store.store.customers
    )
    assert gone not in sandbox_store.store.customers  # Shopify's survivor rules chose `kept`
    survivor = Customer.all_shops.get(shop=shop, shopify_id=kept)
    merged = Customer.all_shops.get(shop=shop, shopify_id=gone)
    assert merged.merged_into_id == survivor.id and merged.deleted_at is not None
    assert Customer.all_shops.get(shop=shop, shopify_id=ids["cy"]).deleted_at is not None
    assert Order.all_shops.get(shop=shop, shopify_id=ids["first_order"]).product_tags == ["shoes"]
    assert json.loads(requests[0][1])  # the bodies are Shopify's JSON, replayed byte for byte
