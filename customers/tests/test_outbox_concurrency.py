"""The outbox under concurrency (real transactions on two connections): no change is left behind
without a drain queued for it, whichever of a delivery and a drain gets to the shop's row first."""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from customers import hooks
from customers.models import MirrorChange, MirrorChangeDrain
from customers.outbox import DRAIN_TASK, mirror_change_record, mirror_changes_drain
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 20  # seconds: a generous bound for a loaded machine, never reached when things work


def in_thread(target):
    """Run `target` on its own connection; returns (thread, outcome dict)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = target()
        except Exception as exc:  # surfaced by the test's asserts
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def drains_queued() -> int:
    return sum(1 for task in OrmQ.objects.all() if task.task["func"] == DRAIN_TASK)


@pytest.fixture
def heard():
    calls = []

    def hook(*, shop_id, customer_ids, **_):
        calls.append((shop_id, customer_ids))

    hooks.on_mirror_changed(hook)
    yield calls
    hooks._MIRROR_CHANGED.remove(hook)


def test_a_drain_waits_for_a_delivery_holding_the_row_and_takes_its_change(heard):
    shop = shop_factory(agency=agency_factory())
    MirrorChangeDrain.all_shops.create(shop=shop, enqueued_at=timezone.now())  # one is queued
    recorded, release = threading.Event(), threading.Event()

    def delivery():
        with transaction.atomic():
            mirror_change_record(shop_id=shop.id, customer_ids=[11], changed=["tags"], reason="w")
            recorded.set()
            assert release.wait(WAIT)

    delivering, delivered = in_thread(delivery)
    assert recorded.wait(WAIT)
    draining, drained = in_thread(lambda: mirror_changes_drain(shop_id=shop.id))
    draining.join(timeout=1)
    assert draining.is_alive()  # blocked on the shop's row until the delivery commits
    release.set()
    delivering.join(WAIT)
    draining.join(WAIT)
    assert "error" not in delivered and "error" not in drained, (delivered, drained)
    assert drained["value"] == 1
    assert heard == [(shop.id, [11])]
    assert not MirrorChange.all_shops.filter(shop=shop).exists()
    assert drains_queued() == 0  # the delivery found a drain queued: it queued none


def test_a_delivery_behind_a_running_drain_queues_the_next_drain(heard, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # the queued drain waits in the broker's table
    shop = shop_factory(agency=agency_factory())
    MirrorChangeDrain.all_shops.create(shop=shop, enqueued_at=timezone.now())
    taken, release = threading.Event(), threading.Event()

    def drain_holding_the_row():
        # A drain's first step, held open: it owns the row until it commits.
        with transaction.atomic():
            MirrorChangeDrain.all_shops.filter(shop=shop).delete()
            taken.set()
            assert release.wait(WAIT)

    draining, drained = in_thread(drain_holding_the_row)
    assert taken.wait(WAIT)

    def delivery():
        with transaction.atomic():
            mirror_change_record(shop_id=shop.id, customer_ids=[12], changed=None, reason="w")

    delivering, delivered = in_thread(delivery)
    delivering.join(timeout=1)
    assert delivering.is_alive()  # waits for the drain's decision on the row
    release.set()
    draining.join(WAIT)
    delivering.join(WAIT)
    assert "error" not in delivered and "error" not in drained, (delivered, drained)
    # The drain did not see the change; the delivery queued a drain that will.
    assert list(MirrorChange.all_shops.filter(shop=shop).values_list("customer_id", flat=True)) == [
        12
    ]
    assert MirrorChangeDrain.all_shops.filter(shop=shop).exists()
    assert drains_queued() == 1
    assert mirror_changes_drain(shop_id=shop.id) == 1
    assert heard == [(shop.id, [12])]
