"""Webhooks keep the mirror equal to the store, whatever their order, duplicates included.

Deliveries go through the real intake (HMAC-signed POST, stored once, processed by the task);
handlers re-read customers from the sandbox over HTTP.
"""

import random
from datetime import UTC, datetime

import pytest
from django_q.conf import Conf

from customers.models import Customer, Order
from customers.tests.sandbox_compare import mirror_differences, shop_for
from tenants.tests.webhook_helpers import webhook_post
from tenants.webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def iso(ms):
    return (
        None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")
    )


def customer_payload(c) -> dict:
    """customers/* body (REST shape, 2026 sample fields: no tags, consent or totals)."""
    return {
        "id": c.id,
        "admin_graphql_api_id": f"gid://shopify/Customer/{c.id}",
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "state": c.state.lower(),
    }


def order_payload(o, store) -> dict:
    return {
        "id": o.id,
        "admin_graphql_api_id": f"gid://shopify/Order/{o.id}",
        "name": o.name,
        "created_at": iso(o.created_at),
        "updated_at": iso(o.updated_at or o.created_at),
        "processed_at": iso(o.processed_at),
        "cancelled_at": iso(o.cancelled_at),
        "currency": o.currency,
        "total_price": f"{o.total_minor // 100}.{o.total_minor % 100:02d}",
        "financial_status": (o.financial_status or "").lower(),
        "test": o.test,
        "customer": {"id": o.customer_id} if o.customer_id else None,
        "line_items": [
            {"id": i.id, "product_id": i.product_id, "quantity": i.quantity} for i in o.line_items
        ],
    }


class Recorder:
    """Performs store actions and records the webhook each would send, as it would send it."""

    def __init__(self, sandbox_store):
        self.handle = sandbox_store
        self.store = sandbox_store.store
        self.events = []

    def _customer_event(self, topic, customer_id):
        customer = self.store.customers[customer_id]
        self.events.append((topic, customer_payload(customer), customer.updated_at))

    def create(self, **values):
        created = self.handle.create_customer(values)
        customer_id = int(created["id"].rsplit("/", 1)[1])
        self._customer_event("customers/create", customer_id)
        return customer_id

    def update(self, customer_id, **values):
        self.handle.update_customer(customer_id, values)
        self._customer_event("customers/update", customer_id)

    def delete(self, customer_id):
        self.handle.delete_customer(customer_id)
        self.events.append(("customers/delete", {"id": customer_id}, None))

    def order(self, customer_id, total, tags):
        placed = self.handle.place_order(
            customer_id,
            totalPrice=total,
            lineItems=[
                {"quantity": 1, "productId": "gid://shopify/Product/300", "productTags": tags}
            ],
        )
        order_id = int(placed["id"].rsplit("/", 1)[1])
        order = self.store.orders[order_id]
        self.events.append(("orders/create", order_payload(order, self.store), order.updated_at))
        self._customer_event("customers/update", customer_id)
        return order_id

    def cancel(self, order_id):
        self.handle.cancel_order(order_id)
        order = self.store.orders[order_id]
        self.events.append(("orders/cancelled", order_payload(order, self.store), order.updated_at))
        if order.customer_id:
            self._customer_event("customers/update", order.customer_id)


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks, monkeypatch):
    def run(shop, topic, payload, triggered_ms=None):
        monkeypatch.setattr(Conf, "SYNC", True)
        headers = {}
        if triggered_ms is not None:
            headers["HTTP_X_SHOPIFY_TRIGGERED_AT"] = iso(triggered_ms)
        with django_capture_on_commit_callbacks(execute=True):
            response = webhook_post(
                client, shop_domain=shop.domain, topic=topic, payload=payload, **headers
            )
        assert response.status_code == 200, response.content
        return response

    return run


def test_shuffled_deliveries_with_duplicates_converge_to_the_store(sandbox_store, deliver):
    shop = shop_for(sandbox_store, country_code="DE")
    record = Recorder(sandbox_store)
    ada = record.create(firstName="Ada", lastName="Lovelace", email="ada@example.com", tags=["vip"])
    bob = record.create(firstName="Bob", email="bob@example.com")
    cy = record.create(firstName="Cy", email="cy@example.com")
    record.update(ada, lastName="King", note="prefers email")
    first = record.order(ada, "25.00", ["shoes"])
    record.order(ada, "10.50", ["socks"])
    bobs = record.order(bob, "99.00", ["hats"])
    record.cancel(bobs)
    record.update(cy, firstName="Cyrus")
    record.delete(cy)
    record.update(bob, tags=["wholesale", "vip"])

    events = record.events + random.Random(4).sample(record.events, 6)  # duplicates
    random.Random(11).shuffle(events)
    for topic, payload, triggered in events:
        deliver(shop, topic, payload, triggered)

    failed = WebhookDelivery.all_shops.filter(shop=shop).exclude(status="processed")
    assert list(failed.values_list("topic", "last_error")) == []
    assert mirror_differences(shop, sandbox_store.store) == []
    assert Customer.all_shops.get(shop=shop, shopify_id=cy).deleted_at is not None
    assert Order.all_shops.get(shop=shop, shopify_id=first).product_tags == ["shoes"]


def test_an_older_delivery_never_moves_a_customer_backwards(sandbox_store, deliver):
    shop = shop_for(sandbox_store)
    record = Recorder(sandbox_store)
    ada = record.create(firstName="Ada", email="ada@example.com")
    # A delivery held back for an hour (second-precision timestamps need a real gap).
    old_payload = {**record.events[-1][1], "updated_at": "2020-01-01T00:00:00+00:00"}
    record.update(ada, firstName="Adeline")
    deliver(shop, "customers/update", record.events[-1][1])
    assert Customer.all_shops.get(shop=shop, shopify_id=ada).first_name == "Adeline"
    # The stale create arrives last and is ignored without a GraphQL read.
    sandbox_store.update_customer(ada, {"firstName": "Changed-on-Shopify"})
    deliver(shop, "customers/create", old_payload)
    assert Customer.all_shops.get(shop=shop, shopify_id=ada).first_name == "Adeline"


def test_delete_before_create_leaves_a_tombstone_that_stays(sandbox_store, deliver):
    shop = shop_for(sandbox_store)
    record = Recorder(sandbox_store)
    gone = record.create(firstName="Gone", email="gone@example.com")
    create_payload = record.events[-1][1]
    record.delete(gone)
    deliver(shop, "customers/delete", {"id": gone})
    deliver(shop, "customers/create", create_payload)
    customer = Customer.all_shops.get(shop=shop, shopify_id=gone)
    assert customer.deleted_at is not None and customer.is_active is False


def test_merge_keeps_the_survivor_and_points_the_other_at_it(sandbox_store, deliver):
    shop = shop_for(sandbox_store)
    record = Recorder(sandbox_store)
    kept = record.create(firstName="Ada", email="ada@example.com")
    other = record.create(firstName="Ada", email="ada.l@example.com")
    moved = record.order(other, "40.00", ["shoes"])
    for topic, payload, triggered in record.events:
        deliver(shop, topic, payload, triggered)
    assert Customer.all_shops.get(shop=shop, shopify_id=other).number_of_orders == 1

    # On Shopify the merge moved the order to the survivor and deleted the other profile.
    store = sandbox_store.store
    store.mutate_customer(kept, lambda c: c.orders.append(store.orders[moved]))
    store.orders[moved].customer_id = kept
    store.customers[other].orders.clear()
    store.delete_customer(other, reason="merged")
    deliver(
        shop,
        "customers/merge",
        {
            "admin_graphql_api_customer_kept_id": f"gid://shopify/Customer/{kept}",
            "admin_graphql_api_customer_deleted_id": f"gid://shopify/Customer/{other}",
            "admin_graphql_api_job_id": None,
            "status": "completed",
            "errors": [],
        },
    )
    survivor = Customer.all_shops.get(shop=shop, shopify_id=kept)
    merged = Customer.all_shops.get(shop=shop, shopify_id=other)
    assert merged.merged_into_id == survivor.id and merged.deleted_at is not None
    assert Order.all_shops.get(shop=shop, shopify_id=moved).customer_id == survivor.id
    assert (survivor.number_of_orders, merged.number_of_orders) == (1, 0)
    assert mirror_differences(shop, store) == []


def test_failed_merge_changes_nothing(sandbox_store, deliver):
    shop = shop_for(sandbox_store)
    record = Recorder(sandbox_store)
    one, two = (
        record.create(firstName="A", email="a@example.com"),
        record.create(firstName="B", email="b@example.com"),
    )
    for topic, payload, triggered in record.events:
        deliver(shop, topic, payload, triggered)
    deliver(
        shop,
        "customers/merge",
        {
            "admin_graphql_api_customer_kept_id": f"gid://shopify/Customer/{one}",
            "admin_graphql_api_customer_deleted_id": f"gid://shopify/Customer/{two}",
            "status": "failed",
            "errors": [{"customer_ids": [one], "field": "merge_in_progress", "message": "busy"}],
        },
    )
    assert Customer.all_shops.filter(shop=shop, deleted_at__isnull=True).count() == 2


def test_consent_webhook_applies_newer_and_ignores_older(sandbox_store, deliver):
    shop = shop_for(sandbox_store)
    record = Recorder(sandbox_store)
    ada = record.create(firstName="Ada", email="ada@example.com")
    deliver(shop, *record.events[-1][:2])
    newer = {
        "customer_id": ada,
        "email_address": "ada@example.com",
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": "2030-01-02T00:00:00+00:00",
        },
    }
    older = {
        **newer,
        "email_marketing_consent": {
            "state": "unsubscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": "2030-01-01T00:00:00+00:00",
        },
    }
    deliver(shop, "customers_email_marketing_consent/update", newer)
    deliver(shop, "customers_email_marketing_consent/update", older)
    customer = Customer.all_shops.get(shop=shop, shopify_id=ada)
    assert (customer.email_marketing_state, customer.email_marketing_opt_in_level) == (
        "SUBSCRIBED",
        "SINGLE_OPT_IN",
    )


def test_order_delete_drops_it_from_the_aggregates(sandbox_store, deliver):
    shop = shop_for(sandbox_store)
    record = Recorder(sandbox_store)
    ada = record.create(firstName="Ada", email="ada@example.com")
    order_id = record.order(ada, "30.00", ["shoes"])
    for topic, payload, triggered in record.events:
        deliver(shop, topic, payload, triggered)
    customer = Customer.all_shops.get(shop=shop, shopify_id=ada)
    assert customer.first_order_at is not None
    deliver(shop, "orders/delete", {"id": order_id})
    assert Order.all_shops.get(shop=shop, shopify_id=order_id).deleted_at is not None
    customer.refresh_from_db()
    assert customer.first_order_at is None


def test_a_payload_without_id_is_refused_and_changes_nothing(sandbox_store, deliver):
    shop = shop_for(sandbox_store)
    deliver(shop, "customers/update", {"first_name": "No id"})
    delivery = WebhookDelivery.all_shops.get(shop=shop, topic="customers/update")
    assert delivery.status != "processed" and "customer payload has no id" in delivery.last_error
    assert not Customer.all_shops.filter(shop=shop).exists()


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("customers/update", {"first_name": "No id"}, "customer payload has no id"),
        ("customers/update", {"id": "abc"}, "id 'abc' is not a Shopify id"),
        ("orders/create", {"id": "gid://shopify/Order/x1"}, "is not a Shopify id"),
        ("customers/update", [1], "body is a JSON list, not an object"),
    ],
)
def test_a_payload_that_can_never_apply_fails_at_once(
    sandbox_store, deliver, topic, payload, reason
):
    shop = shop_for(sandbox_store)
    deliver(shop, topic, payload)
    delivery = WebhookDelivery.all_shops.get(shop=shop, topic=topic)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.next_attempt_at is None
    assert reason in delivery.last_error
    assert not Customer.all_shops.filter(shop=shop).exists()


@pytest.mark.django_db(transaction=True)
def test_shopify_is_read_before_the_delivery_transaction_opens(sandbox_store, deliver, monkeypatch):
    """A GraphQL re-read must not hold the delivery's row lock and transaction open."""
    from django.db import connection

    from tenants.shopify import operations

    reads = []
    real_fetch = operations.customer_fetch

    def fetch_noting_the_transaction(shop, gid):
        reads.append((gid, connection.in_atomic_block))
        return real_fetch(shop, gid)

    monkeypatch.setattr(operations, "customer_fetch", fetch_noting_the_transaction)
    shop = shop_for(sandbox_store)
    record = Recorder(sandbox_store)
    ada = record.create(firstName="Ada", email="ada@example.com")
    record.order(ada, "25.00", ["shoes"])
    for topic, payload, triggered in record.events:
        deliver(shop, topic, payload, triggered)
    assert reads and all(in_transaction is False for _gid, in_transaction in reads), reads
    assert mirror_differences(shop, sandbox_store.store) == []


def test_a_late_order_update_changes_nothing_and_tells_no_one(sandbox_store, deliver):
    from customers import hooks

    shop = shop_for(sandbox_store)
    record = Recorder(sandbox_store)
    ada = record.create(firstName="Ada", email="ada@example.com")
    order_id = record.order(ada, "25.00", ["shoes"])
    for topic, payload, triggered in record.events:
        deliver(shop, topic, payload, triggered)
    order_payload_now = next(p for t, p, _ in record.events if t == "orders/create")
    heard = []
    hook = lambda **kwargs: heard.append(kwargs)  # noqa: E731
    hooks.on_mirror_changed(hook)
    try:
        late = {
            **order_payload_now,
            "updated_at": "2020-01-01T00:00:00+00:00",
            "total_price": "1.00",
        }
        deliver(shop, "orders/updated", late)
    finally:
        hooks._MIRROR_CHANGED.remove(hook)
    assert Order.all_shops.get(shop=shop, shopify_id=order_id).total_price == 25
    assert heard == []
    assert mirror_differences(shop, sandbox_store.store) == []
