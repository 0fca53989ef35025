"""Webhooks the sandbox sends over HTTP, replayed LATE: after the mirror converged, every delivery
of every topic arrives again (newest first, under new webhook ids), so each topic's handler meets
a delivery older than what the mirror holds. And Shopify's privacy requests, sent by the sandbox
over HTTP, replayed with retries and stale deliveries around them.
"""

import uuid

import pytest
from django_q.conf import Conf

from customers.models import Customer, CustomerDataExport
from customers.tests import test_webhooks_replay
from customers.tests.sandbox_compare import mirror_differences, shop_for
from customers.tests.test_webhooks_replay import TOPICS, _deliver, _store_history
from tenants.webhooks.models import WebhookDelivery
from tests.personal_data_scan import personal_data_hits

pytestmark = pytest.mark.django_db
recorded_webhooks = test_webhooks_replay.recorded_webhooks  # the fixture


@pytest.fixture
def replay(client, monkeypatch, django_capture_on_commit_callbacks):
    def run(deliveries):
        monkeypatch.setattr(Conf, "SYNC", True)
        for headers, body, webhook_id in deliveries:
            with django_capture_on_commit_callbacks(execute=True):
                _deliver(client, headers, body, webhook_id)

    return run


def test_every_topic_delivered_again_late_moves_nothing_backwards(
    sandbox_server, sandbox_store, recorded_webhooks, replay
):
    hub, requests = recorded_webhooks
    _store_history(sandbox_server, sandbox_store)
    assert hub.wait_idle(timeout=30, shop=sandbox_store.domain)
    shop = shop_for(sandbox_store, country_code="DE")
    replay([(h, b, None) for h, b in requests])
    assert mirror_differences(shop, sandbox_store.store) == []
    processed = WebhookDelivery.all_shops.filter(shop=shop, status="processed").count()
    assert processed == len(requests)

    # Every delivery once more, newest first: each is as old as or older than the mirror's state.
    late = [(h, b, str(uuid.uuid4())) for h, b in reversed(requests)]
    assert {h["X-Shopify-Topic"] for h, _b, _id in late} >= set(TOPICS)
    replay(late)

    stored = WebhookDelivery.all_shops.filter(shop=shop)
    assert stored.count() == 2 * len(requests)
    assert list(stored.exclude(status="processed").values_list("topic", "last_error")) == []
    assert mirror_differences(shop, sandbox_store.store) == []


MARKERS = ["privacia", "quendolyn", "pq.2024", "4915177"]


def _privacy_request(sandbox_server, sandbox_store, action: str, customer_gid: str, url: str):
    status, body = sandbox_server.control(
        "POST",
        f"/_sandbox/webhooks/{sandbox_store.domain}/{action}",
        {"customerId": customer_gid, "callbackUrl": url},
    )
    assert status == 200, body


def test_privacy_requests_sent_by_the_sandbox_with_retries_and_late_deliveries(
    sandbox_server, sandbox_store, recorded_webhooks, replay
):
    hub, requests = recorded_webhooks
    store = sandbox_store
    person = store.create_customer(
        {
            "firstName": "Privacia",
            "lastName": "Quendolyn",
            "email": "pq.2024@example.com",
            "phone": "+4915177123456",
            "note": "call Privacia first",
        }
    )
    shopify_id = int(person["id"].rsplit("/", 1)[1])
    store.place_order(shopify_id, totalPrice="30.00")
    store.update_customer(shopify_id, {"note": "call Privacia Quendolyn first"})
    url = _recorder_url(hub, store.domain)
    _privacy_request(sandbox_server, store, "customers_data_request", person["id"], url)
    assert hub.wait_idle(timeout=30, shop=store.domain)
    _privacy_request(sandbox_server, store, "customers_redact", person["id"], url)
    assert hub.wait_idle(timeout=30, shop=store.domain)
    by_topic: dict[str, list] = {}
    for headers, body in requests:
        by_topic.setdefault(headers["X-Shopify-Topic"], []).append((headers, body))
    assert {"customers/create", "customers/update", "orders/create"} <= set(by_topic)
    [data_request] = by_topic["customers/data_request"]
    [redact] = by_topic["customers/redact"]

    shop = shop_for(store, country_code="DE")
    mirror_first = [
        (h, b, None)
        for h, b in requests
        if h["X-Shopify-Topic"] not in ("customers/redact", "customers/data_request")
    ]
    replay([*mirror_first, (*data_request, None)])
    export = CustomerDataExport.all_shops.get(shop=shop)
    assert export.payload["customer"]["email"] == "pq.2024@example.com"
    assert export.payload["data_request_id"] == export.data_request_id is not None
    assert len(export.payload["orders"]) == 1
    assert personal_data_hits(MARKERS)  # positive control: the mirror and payloads hold it

    replay(
        [
            (*redact, None),
            (*redact, None),  # Shopify's retry: same webhook id, acknowledged, applied once
            *[(h, b, str(uuid.uuid4())) for h, b, _ in mirror_first],  # stale, after the erasure
            (*data_request, str(uuid.uuid4())),  # a new data request after the erasure
        ]
    )

    customer = Customer.all_shops.get(shop=shop, shopify_id=shopify_id)
    assert customer.redacted_at is not None
    assert (customer.first_name, customer.email, customer.phone, customer.note) == ("", "", "", "")
    assert customer.number_of_orders == 1  # non-personal aggregates stay
    assert WebhookDelivery.all_shops.filter(shop=shop, topic="customers/redact").count() == 1
    stored = WebhookDelivery.all_shops.filter(shop=shop)
    assert list(stored.exclude(status="processed").values_list("topic", "last_error")) == []
    [after] = CustomerDataExport.all_shops.filter(shop=shop)  # the first one was erased
    assert after.payload["customer"]["redacted_at"] is not None
    holding = [d.topic for d in stored if "pq.2024" in str(d.payload)]
    assert holding == []
    assert personal_data_hits(MARKERS) == set()


def _recorder_url(hub, domain: str) -> str:
    return next(s.callback_url for s in hub.subscriptions(domain))
