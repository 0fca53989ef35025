"""The webhook hub over real HTTP: signing, headers, retries, faults, subscriptions."""

import base64
import hashlib
import hmac
import itertools
import time

import pytest

from sandbox.tests.receiver import Receiver
from sandbox.webhooks import (
    RETRIES,
    RETRY_DELAYS,
    RETRY_WINDOW_SECONDS,
    WebhookHub,
    sign,
    topic_enum,
    topic_string,
)

SECRET = "hush"
SHOP = "acme-1.myshopify.com"


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def hub():
    webhooks = WebhookHub(secret=SECRET, time_factor=0.0001, timeout=2.0)
    yield webhooks
    webhooks.stop()


def test_sign_matches_the_documented_test_vector():
    # shopify-admin-api.md §5.3: secret `hush`, this body -> this header value.
    body = b'{"id":1,"email":"a@example.com"}'
    assert sign(body, "hush") == "SnRPygpSlvOBkfX6XdQZR4cL4GiE8A3prXrBdoz9iBA="


@pytest.mark.parametrize(
    ("enum", "topic"),
    [
        ("CUSTOMERS_CREATE", "customers/create"),
        ("CUSTOMERS_UPDATE", "customers/update"),
        ("ORDERS_UPDATED", "orders/updated"),
        ("ORDERS_CANCELLED", "orders/cancelled"),
        ("CUSTOMERS_MERGE", "customers/merge"),
        ("BULK_OPERATIONS_FINISH", "bulk_operations/finish"),
        ("APP_UNINSTALLED", "app/uninstalled"),
        ("CUSTOMER_TAGS_ADDED", "customer.tags_added"),
        ("CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE", "customers_email_marketing_consent/update"),
        ("CUSTOMERS_MARKETING_CONSENT_UPDATE", "customers_marketing_consent/update"),
    ],
)
def test_topic_names_round_trip(enum, topic):
    assert topic_string(enum) == topic
    assert topic_enum(topic) == enum


def test_retry_schedule_is_eight_doubling_waits_over_four_hours():
    assert len(RETRY_DELAYS) == RETRIES == 8
    assert sum(RETRY_DELAYS) == pytest.approx(RETRY_WINDOW_SECONDS)
    assert all(b == pytest.approx(2 * a) for a, b in itertools.pairwise(RETRY_DELAYS))


def test_delivery_is_signed_and_carries_shopify_headers(hub, receiver):
    hub.subscribe(shop=SHOP, topic="customers/update", callback_url=receiver.url)
    hub.emit(SHOP, "customers/update", {"id": 7, "email": "a@example.com"}, event_id="evt-1")
    [request] = receiver.wait_for(1)
    headers = request["headers"]
    expected = base64.b64encode(hmac.new(SECRET.encode(), request["raw"], hashlib.sha256).digest())
    assert headers["x-shopify-hmac-sha256"] == expected.decode()
    assert headers["x-shopify-topic"] == "customers/update"
    assert headers["x-shopify-shop-domain"] == SHOP
    assert headers["x-shopify-event-id"] == "evt-1"
    assert headers["x-shopify-api-version"] == "2025-01"
    assert headers["x-shopify-webhook-id"]
    assert headers["x-shopify-triggered-at"].endswith("Z")
    assert headers["content-type"] == "application/json"
    assert request["json"] == {"id": 7, "email": "a@example.com"}


def test_only_subscribed_topics_and_shops_are_delivered(hub, receiver):
    hub.subscribe(shop=SHOP, topic="customers/create", callback_url=receiver.url)
    assert hub.emit(SHOP, "customers/update", {"id": 1}) == []
    assert hub.emit("other.myshopify.com", "customers/create", {"id": 1}) == []
    hub.emit(SHOP, "customers/create", {"id": 2})
    assert hub.wait_idle()
    assert [r["json"]["id"] for r in receiver.requests] == [2]


def test_failing_receiver_gets_retries_with_the_same_body_and_webhook_id(hub):
    failing = Receiver(statuses=[500, 503, 404])
    try:
        hub.subscribe(shop=SHOP, topic="orders/create", callback_url=failing.url)
        hub.emit(SHOP, "orders/create", {"id": 99})
        requests = failing.wait_for(4)
        assert hub.wait_idle()
        assert len({r["headers"]["x-shopify-webhook-id"] for r in requests}) == 1
        assert {r["raw"] for r in requests} == {requests[0]["raw"]}
        outcomes = [entry["outcome"] for entry in hub.deliveries(topic="orders/create")]
        assert outcomes == ["retrying", "retrying", "retrying", "delivered"]
        assert [entry["status"] for entry in hub.deliveries()] == [500, 503, 404, 200]
    finally:
        failing.close()


def test_unreachable_receiver_exhausts_retries_and_loses_the_subscription(hub):
    hub.time_factor = 0.00001
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens any more: every attempt fails to connect
    subscription = hub.subscribe(shop=SHOP, topic="customers/delete", callback_url=url)
    hub.emit(SHOP, "customers/delete", {"id": 1})
    assert hub.wait_idle(timeout=20)
    entries = hub.deliveries()
    assert [e["attempt"] for e in entries] == list(range(RETRIES + 1))
    assert entries[-1]["outcome"] == "failed"
    assert all(e["error"] for e in entries)
    assert hub.subscription(shop=SHOP, subscription_id=subscription.id) is None


def test_timeout_counts_as_a_failure():
    slow = Receiver(delay=1.0)
    hub = WebhookHub(secret=SECRET, time_factor=0.0001, timeout=0.2)
    try:
        hub.subscribe(shop=SHOP, topic="customers/update", callback_url=slow.url)
        hub.emit(SHOP, "customers/update", {"id": 1})
        slow.wait_for(2, timeout=10)
        first = hub.deliveries()[0]
        assert first["outcome"] == "retrying"
        assert "timed out" in first["error"]
    finally:
        hub.stop()
        slow.close()


def test_drop_fault_loses_the_next_deliveries(hub, receiver):
    hub.subscribe(shop=SHOP, topic="customers/update", callback_url=receiver.url)
    hub.set_faults(drop=2)
    for number in range(4):
        hub.emit(SHOP, "customers/update", {"id": number})
    assert hub.wait_idle()
    assert [r["json"]["id"] for r in receiver.requests] == [2, 3]
    assert [e["outcome"] for e in hub.deliveries()][:2] == ["dropped", "dropped"]


def test_duplicate_fault_sends_the_same_delivery_twice(hub, receiver):
    hub.subscribe(shop=SHOP, topic="customers/update", callback_url=receiver.url)
    hub.set_faults(duplicate=1)
    hub.emit(SHOP, "customers/update", {"id": 1})
    hub.emit(SHOP, "customers/update", {"id": 2})
    assert hub.wait_idle()
    assert [r["json"]["id"] for r in receiver.requests] == [1, 1, 2]
    first, second = receiver.requests[:2]
    for header in ("x-shopify-webhook-id", "x-shopify-event-id", "x-shopify-hmac-sha256"):
        assert first["headers"][header] == second["headers"][header]


def test_reorder_fault_delivers_newest_first(hub, receiver):
    hub.subscribe(shop=SHOP, topic="customers/update", callback_url=receiver.url)
    hub.set_faults(reorder=3)
    for number in (1, 2, 3, 4):
        hub.emit(SHOP, "customers/update", {"id": number})
        time.sleep(0.01)
    assert hub.wait_idle()
    assert [r["json"]["id"] for r in receiver.requests] == [3, 2, 1, 4]


def test_one_event_id_per_action_one_webhook_id_per_delivery(hub, receiver):
    hub.subscribe(shop=SHOP, topic="customers/update", callback_url=receiver.url)
    hub.subscribe(shop=SHOP, topic="customers/update", callback_url=receiver.url + "/second")
    hub.emit(SHOP, "customers/update", {"id": 5})
    requests = receiver.wait_for(2)
    assert len({r["headers"]["x-shopify-event-id"] for r in requests}) == 1
    assert len({r["headers"]["x-shopify-webhook-id"] for r in requests}) == 2


def test_unsubscribe_is_scoped_to_the_shop(hub, receiver):
    subscription = hub.subscribe(shop=SHOP, topic="customers/update", callback_url=receiver.url)
    assert not hub.unsubscribe(shop="other.myshopify.com", subscription_id=subscription.id)
    assert hub.unsubscribe(shop=SHOP, subscription_id=subscription.id)
    assert hub.subscriptions(SHOP) == []


def test_include_fields_trims_the_body_per_subscription(hub, receiver):
    hub.subscribe(shop=SHOP, topic="customers/update", callback_url=receiver.url)
    hub.subscribe(
        shop=SHOP,
        topic="customers/update",
        callback_url=receiver.url + "/slim",
        include_fields=["id", "updated_at"],
    )
    hub.emit(SHOP, "customers/update", {"id": 1, "email": "a@example.com", "updated_at": "t"})
    requests = receiver.wait_for(2)
    bodies = {r["path"]: r["json"] for r in requests}
    assert bodies["/webhooks"] == {"id": 1, "email": "a@example.com", "updated_at": "t"}
    assert bodies["/webhooks/slim"] == {"id": 1, "updated_at": "t"}


def test_forgetting_a_shop_drops_its_pending_retries(hub):
    hub.time_factor = 1.0  # the first retry would wait about a minute
    failing = Receiver(statuses=[500])
    try:
        hub.subscribe(shop=SHOP, topic="customers/update", callback_url=failing.url)
        hub.emit(SHOP, "customers/update", {"id": 1})
        failing.wait_for(1)
        assert not hub.wait_idle(timeout=0.3, shop=SHOP)  # a retry is scheduled
        assert hub.wait_idle(timeout=0.3, shop="other.myshopify.com")
        hub.forget_shop(SHOP)
        assert hub.wait_idle(timeout=2, shop=SHOP)
        assert hub.subscriptions(SHOP) == []
    finally:
        failing.close()
