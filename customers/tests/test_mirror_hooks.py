"""The mirror_changed contract: hooks run after commit and hear which customers and fields changed."""

from datetime import UTC, datetime

import pytest
from django.db import transaction

from customers import hooks, sync
from customers.hooks import AGGREGATE_FIELDS, ORDERS_CHANGED, mirror_changed_notify
from customers.models import Customer, SyncRun
from customers.sync import shop_delta_sync
from customers.tests.sandbox_compare import shop_for
from customers.tests.test_webhooks import Recorder, deliver  # noqa: F401 (fixture)
from sandbox import webhook_payloads as payloads

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
    assert [(h["customer_ids"], h["changed"]) for h in heard] == [
        ([local_id], {ORDERS_CHANGED, *AGGREGATE_FIELDS})
    ]
    heard.clear()

    sandbox_store.update_customer(ada, {"tags": ["vip"]})
    tagged = sandbox_store.store.customers[ada].updated_at
    deliver(shop, "customer.tags_added", payloads.tags_changed(ada, ["vip"], tagged))
    assert [(h["customer_ids"], "tags" in h["changed"]) for h in heard] == [([local_id], True)]
    assert ORDERS_CHANGED not in heard[0]["changed"]
    heard.clear()

    deliver(shop, "orders/delete", {"id": order_id})
    assert [h["changed"] for h in heard] == [{ORDERS_CHANGED, *AGGREGATE_FIELDS}]
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
