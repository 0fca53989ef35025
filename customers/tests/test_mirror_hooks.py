"""The mirror_changed contract: hooks run after commit and hear which customers and fields changed."""

from datetime import UTC, datetime

import pytest
from django.db import transaction

from customers import hooks, sync
from customers.hooks import (
    AGGREGATE_FIELDS,
    ORDER_PRODUCTS_CHANGED,
    ORDERS_CHANGED,
    mirror_changed_notify,
)
from customers.models import Customer, SyncRun
from customers.sync import shop_delta_sync
from customers.tests.sandbox_compare import shop_for
from customers.tests.test_webhooks import Recorder, deliver  # noqa: F401 (fixture)
from sandbox import webhook_payloads as payloads
from tenants.webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    calls = []

    def hook(*, shop_id, customer_ids, reason, changed, **_):
        calls.append(
            {"shop_id": shop_id, "customer_ids": customer_ids, "reason": reason, "changed": changed}
        )

    hooks.on_mirror_changed(hook)
    try:
        yield calls
    finally:
        hooks._MIRROR_CHANGED.remove(hook)


def test_hooks_wait_for_the_commit_and_skip_a_rollback(heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        mirror_changed_notify(shop_id=1, customer_ids=[5], reason="webhook", changed=["tags"])
        assert heard == []  # not before the commit
    assert heard == [
        {"shop_id": 1, "customer_ids": [5], "reason": "webhook", "changed": frozenset({"tags"})}
    ]
    heard.clear()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        mirror_changed_notify(shop_id=1, customer_ids=[6], reason="webhook")
        raise RuntimeError("the change is rolled back")
    assert heard == []


def consent_payload(shopify_id: int, state: str, at: str) -> dict:
    return {
        "customer_id": shopify_id,
        "email_address": "ada@example.com",
        "email_marketing_consent": {
            "state": state,
            "opt_in_level": "single_opt_in",
            "consent_updated_at": at,
        },
    }


def test_webhooks_name_the_fields_their_topic_changes(sandbox_store, deliver, heard):  # noqa: F811
    shop = shop_for(sandbox_store)
    record = Recorder(sandbox_store)
    ada = record.create(firstName="Ada", email="ada@example.com")
    deliver(shop, *record.events[-1][:2])
    local_id = Customer.all_shops.get(shop=shop, shopify_id=ada).id
    heard.clear()

    deliver(
        shop,
        "customers_email_marketing_consent/update",
        consent_payload(ada, "subscribed", "2030-01-02T00:00:00+00:00"),
    )
    assert [(h["customer_ids"], h["changed"]) for h in heard] == [
        (
            [local_id],
            {"email_marketing_state", "email_marketing_opt_in_level", "email_marketing_updated_at"},
        )
    ]
    heard.clear()

    order_id = record.order(ada, "25.00", ["shoes"])
    deliver(shop, *record.events[-2][:2])  # orders/create
    # The owner's totals are Shopify's: it is re-read, so its other differences count too.
    assert [h["customer_ids"] for h in heard] == [[local_id]]
    assert {ORDERS_CHANGED, ORDER_PRODUCTS_CHANGED, *AGGREGATE_FIELDS} <= heard[0]["changed"]
    heard.clear()

    # Cancelled: the order still says what the customer bought (its products did not change).
    record.cancel(order_id)
    deliver(shop, *record.events[-2][:2])  # orders/cancelled
    assert [h["customer_ids"] for h in heard] == [[local_id]]
    assert ORDERS_CHANGED in heard[0]["changed"]
    assert ORDER_PRODUCTS_CHANGED not in heard[0]["changed"]
    heard.clear()
    deliver(shop, *record.events[-2][:2])  # the same delivery again: nothing changed
    assert heard == []

    sandbox_store.update_customer(ada, {"tags": ["vip"]})
    tagged = sandbox_store.store.customers[ada].updated_at
    deliver(shop, "customer.tags_added", payloads.tags_changed(ada, ["vip"], tagged))
    assert [(h["customer_ids"], "tags" in h["changed"]) for h in heard] == [([local_id], True)]
    assert ORDERS_CHANGED not in heard[0]["changed"]
    heard.clear()

    deliver(shop, "orders/delete", {"id": order_id})
    assert [h["customer_ids"] for h in heard] == [[local_id]]
    assert {ORDERS_CHANGED, ORDER_PRODUCTS_CHANGED, *AGGREGATE_FIELDS} <= heard[0]["changed"]
    assert {h["reason"] for h in heard} == {"webhook"}


def test_delta_names_the_customers_it_changed_unless_there_are_too_many(
    sandbox_store, heard, monkeypatch, django_capture_on_commit_callbacks
):
    shop = shop_for(sandbox_store)
    SyncRun.all_shops.create(
        shop=shop, kind="full", status="succeeded", high_water_mark=datetime(2020, 1, 1, tzinfo=UTC)
    )
    for name in ("Ada", "Bob"):
        sandbox_store.create_customer({"firstName": name, "email": f"{name}@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        shop_delta_sync(shop_id=shop.id)
    ids = sorted(Customer.all_shops.filter(shop=shop).values_list("id", flat=True))
    assert [(sorted(h["customer_ids"]), h["reason"]) for h in heard] == [(ids, "delta")]
    heard.clear()

    sandbox_store.create_customer({"firstName": "Cy", "email": "cy@example.com"})
    sandbox_store.create_customer({"firstName": "Di", "email": "di@example.com"})
    monkeypatch.setattr(sync, "DELTA_NOTIFY_MAX_IDS", 1)
    with django_capture_on_commit_callbacks(execute=True):
        shop_delta_sync(shop_id=shop.id)
    assert [(h["customer_ids"], h["reason"]) for h in heard] == [(None, "delta")]


def _queued(func: str) -> list[dict]:
    from django_q.models import OrmQ

    return [task.task for task in OrmQ.objects.all() if task.task["func"] == func]


def test_a_burst_of_deliveries_reaches_the_hooks_as_one_batch(
    client, heard, monkeypatch, django_capture_on_commit_callbacks
):
    """Three deliveries queue ONE drain task; the drain calls each hook once with all of them."""
    from django_q.conf import Conf

    from customers.models import MirrorChange, MirrorChangeDrain
    from customers.outbox import DRAIN_TASK, mirror_changes_drain
    from tenants.tests.factories import agency_factory, shop_factory
    from tenants.tests.webhook_helpers import webhook_post
    from tenants.webhooks.services import webhook_delivery_process

    monkeypatch.setattr(Conf, "SYNC", False)  # tasks wait in the ORM broker's queue
    shop = shop_factory(agency=agency_factory())
    ids = [
        Customer.all_shops.create(shop=shop, shopify_id=n, gid=f"gid://shopify/Customer/{n}").id
        for n in (1, 2, 3)
    ]
    bodies = [
        ("customers_email_marketing_consent/update", consent_payload(1, "subscribed", None)),
        ("customers_email_marketing_consent/update", consent_payload(2, "unsubscribed", None)),
        ("orders/create", {"id": 70, "created_at": "2025-01-01T10:00:00+00:00",
                           "updated_at": "2025-01-01T10:00:00+00:00", "total_price": "9.50",
                           "currency": "EUR", "customer": {"id": 3}, "line_items": []}),
    ]  # fmt: skip
    for topic, body in bodies:
        with django_capture_on_commit_callbacks(execute=True):
            webhook_post(client, shop_domain=shop.domain, topic=topic, payload=body)
    for delivery_id in WebhookDelivery.all_shops.values_list("id", flat=True):
        with django_capture_on_commit_callbacks(execute=True):
            assert webhook_delivery_process(delivery_id=delivery_id) == "processed"

    assert heard == []  # nothing yet: the hooks wait for the drain
    assert [task["args"] for task in _queued(DRAIN_TASK)] == [(shop.id, "webhook")]
    assert MirrorChange.all_shops.filter(shop=shop).count() == 3
    with django_capture_on_commit_callbacks(execute=True):
        assert mirror_changes_drain(shop_id=shop.id) == 3
    consent = {
        "email_marketing_state",
        "email_marketing_opt_in_level",
        "email_marketing_updated_at",
    }
    assert heard == [
        {
            "shop_id": shop.id,
            "customer_ids": sorted(ids),
            "reason": "webhook",
            "changed": consent | {ORDERS_CHANGED, *AGGREGATE_FIELDS},
        }
    ]
    assert not MirrorChange.all_shops.filter(shop=shop).exists()
    assert not MirrorChangeDrain.all_shops.filter(shop=shop).exists()
    # The next change queues a new drain.
    with django_capture_on_commit_callbacks(execute=True):
        webhook_post(
            client,
            shop_domain=shop.domain,
            topic="customers_email_marketing_consent/update",
            payload=consent_payload(1, "unsubscribed", None),
        )
        webhook_delivery_process(delivery_id=WebhookDelivery.all_shops.latest("id").id)
    assert len(_queued(DRAIN_TASK)) == 2


def test_a_drain_lost_with_its_worker_is_queued_again_by_the_next_change(
    heard, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone
    from django_q.conf import Conf

    from customers.models import MirrorChangeDrain
    from customers.outbox import DRAIN_TASK, REQUEUE_AFTER, mirror_change_record
    from tenants.tests.factories import agency_factory, shop_factory

    monkeypatch.setattr(Conf, "SYNC", False)
    shop = shop_factory(agency=agency_factory())
    queued_long_ago = timezone.now() - REQUEUE_AFTER - timedelta(seconds=1)
    MirrorChangeDrain.all_shops.create(shop=shop, enqueued_at=queued_long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        mirror_change_record(shop_id=shop.id, customer_ids=[1], changed=["tags"], reason="webhook")
        mirror_change_record(shop_id=shop.id, customer_ids=[2], changed=["tags"], reason="webhook")
    assert len(_queued(DRAIN_TASK)) == 1  # re-queued once, not once per change
