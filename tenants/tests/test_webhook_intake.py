"""POST /webhooks/shopify/: HMAC first, stored once, processed once, failures retried."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.conf import Conf

from tenants.models import Shop
from tenants.tests.factories import agency_factory, shop_factory
from tenants.tests.webhook_helpers import webhook_post
from tenants.webhooks import routing
from tenants.webhooks.models import WebhookDelivery
from tenants.webhooks.services import (
    MAX_ATTEMPTS,
    retry_delay,
    webhook_deliveries_retry_due,
    webhook_delivery_process,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def tasks_run_inline(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), domain="intake.myshopify.com")


@pytest.fixture
def recorded(monkeypatch):
    """A handler for a test topic that records each call."""
    calls = []

    def handler(*, shop, payload, delivery):
        calls.append((shop.pk, payload, delivery.pk))

    monkeypatch.setitem(routing._ROUTES, "test/recorded", handler)
    return calls


def deliveries():
    return WebhookDelivery.all_shops.all()


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the retry sweep and the tasks it queues (inline), returning the queued ids."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return webhook_deliveries_retry_due(**kwargs)

    return run


@pytest.mark.parametrize(
    "signature", ["", "not-base64", "SnRPygpSlvOBkfX6XdQZR4cL4GiE8A3prXrBdoz9iBA="]
)
def test_missing_or_bad_hmac_answers_401_and_stores_nothing(client, shop, signature):
    response = webhook_post(
        client,
        shop_domain=shop.domain,
        topic="test/recorded",
        payload={"id": 1},
        hmac_header=signature,
    )
    assert response.status_code == 401
    assert "X-Shopify-Hmac-Sha256" in response.json()["error"]
    assert not deliveries().exists()


def test_signed_with_another_secret_is_401(client, shop):
    response = webhook_post(
        client, shop_domain=shop.domain, topic="test/recorded", payload={}, secret="wrong"
    )
    assert response.status_code == 401
    assert not deliveries().exists()


def test_previous_secret_accepted_during_rotation(
    client, shop, settings, recorded, django_capture_on_commit_callbacks
):
    settings.SHOPIFY_API_SECRET_PREVIOUS = "the-old-secret"
    with django_capture_on_commit_callbacks(execute=True):
        response = webhook_post(
            client,
            shop_domain=shop.domain,
            topic="test/recorded",
            payload={"id": 7},
            secret="the-old-secret",
        )
    assert response.status_code == 200
    assert [payload for _, payload, _ in recorded] == [{"id": 7}]


def test_non_post_is_405(client):
    assert client.get("/webhooks/shopify/").status_code == 405
    assert client.put("/webhooks/shopify/").status_code == 405


def test_malformed_json_with_valid_hmac_is_400_and_stores_nothing(client, shop):
    response = webhook_post(
        client, shop_domain=shop.domain, topic="test/recorded", raw=b'{"id": 1,'
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    assert not deliveries().exists()


@pytest.mark.parametrize(
    "raw",
    [b'{"note": "a\\u0000b"}', b'{"tags": ["ok", {"k\\u0000": 1}]}'],
)
def test_nul_escape_with_valid_hmac_is_400_and_stores_nothing(client, shop, recorded, raw):
    response = webhook_post(client, shop_domain=shop.domain, topic="test/recorded", raw=raw)
    assert response.status_code == 400
    assert "NUL character" in response.json()["error"]
    assert not deliveries().exists()
    assert recorded == []


def test_missing_webhook_id_is_400(client, shop):
    response = webhook_post(
        client,
        shop_domain=shop.domain,
        topic="test/recorded",
        payload={},
        HTTP_X_SHOPIFY_WEBHOOK_ID="",
    )
    assert response.status_code == 400
    assert "X-Shopify-Webhook-Id" in response.json()["error"]
    assert not deliveries().exists()


def test_unknown_shop_is_acknowledged_and_ignored(client, recorded):
    response = webhook_post(
        client, shop_domain="nobody.myshopify.com", topic="test/recorded", payload={}
    )
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert not deliveries().exists()
    assert recorded == []


def test_uninstalled_shop_ignores_ordinary_topics(client, shop, recorded):
    Shop.objects.filter(pk=shop.pk).update(status=Shop.Status.UNINSTALLED)
    response = webhook_post(client, shop_domain=shop.domain, topic="test/recorded", payload={})
    assert response.json() == {"status": "ignored"}
    assert not deliveries().exists()


def test_delivery_is_stored_with_its_headers_and_processed_once(
    client, shop, recorded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = webhook_post(
            client,
            shop_domain=shop.domain,
            topic="test/recorded",
            payload={"id": 42},
            webhook_id="wh-1",
            HTTP_X_SHOPIFY_EVENT_ID="ev-1",
        )
    with django_capture_on_commit_callbacks(execute=True) as repeated_callbacks:
        again = webhook_post(
            client,
            shop_domain=shop.domain,
            topic="test/recorded",
            payload={"id": 42},
            webhook_id="wh-1",
        )
    assert first.json() == {"status": "received"}
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert repeated_callbacks == []  # nothing queued for the repeat
    delivery = deliveries().get()
    assert (delivery.shop_id, delivery.webhook_id, delivery.topic) == (
        shop.pk,
        "wh-1",
        "test/recorded",
    )
    assert delivery.event_id == "ev-1"
    assert delivery.api_version == "2025-01"
    assert delivery.triggered_at.isoformat().startswith("2026-01-05T10:00:00")
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert delivery.attempts == 1
    assert delivery.processed_at is not None
    assert recorded == [(shop.pk, {"id": 42}, delivery.pk)]


def test_topic_without_handler_is_marked_ignored(client, shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        webhook_post(client, shop_domain=shop.domain, topic="nobody/handles", payload={"a": 1})
    delivery = deliveries().get()
    assert delivery.status == WebhookDelivery.Status.IGNORED
    assert delivery.attempts == 0


def test_failures_are_recorded_retried_with_backoff_then_given_up(
    client, shop, monkeypatch, django_capture_on_commit_callbacks, sweep
):
    outcomes = ["boom"] * MAX_ATTEMPTS

    def flaky(*, shop, payload, delivery):
        if outcomes.pop(0) == "boom":
            raise RuntimeError("mirror unavailable")

    monkeypatch.setitem(routing._ROUTES, "test/flaky", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_post(client, shop_domain=shop.domain, topic="test/flaky", payload={"id": 3})
    delivery = deliveries().get()
    assert delivery.status == WebhookDelivery.Status.RECEIVED
    assert delivery.attempts == 1
    assert delivery.last_error == "RuntimeError: mirror unavailable"
    assert delivery.next_attempt_at > timezone.now() + retry_delay(1) - timedelta(seconds=5)

    # Not due yet: the sweep leaves it alone.
    assert sweep() == []
    delays = []
    for attempt in range(2, MAX_ATTEMPTS + 1):
        delays.append(delivery.next_attempt_at - timezone.now())
        # The backoff is honoured even if a stale task for the delivery runs early.
        webhook_delivery_process(delivery_id=delivery.pk)
        assert WebhookDelivery.all_shops.get(pk=delivery.pk).attempts == attempt - 1
        later = delivery.next_attempt_at + timedelta(seconds=1)
        assert sweep(now=later) == [delivery.pk]
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
    assert delays == sorted(delays)  # growing backoff
    assert delays[-1] > delays[0] * 30
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.next_attempt_at is None
    assert sweep(now=timezone.now() + timedelta(days=1)) == []


def test_a_failed_attempt_then_success_processes_once(
    client, shop, monkeypatch, django_capture_on_commit_callbacks, sweep
):
    applied = []

    def once_flaky(*, shop, payload, delivery):
        if delivery.attempts == 1:
            raise ConnectionError("timeout")
        applied.append(payload["id"])

    monkeypatch.setitem(routing._ROUTES, "test/once-flaky", once_flaky)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_post(client, shop_domain=shop.domain, topic="test/once-flaky", payload={"id": 9})
    delivery = deliveries().get()
    due = delivery.next_attempt_at + timedelta(seconds=1)
    sweep(now=due)
    sweep(now=due)  # a second sweep finds nothing left to do
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert delivery.attempts == 2
    assert delivery.last_error == ""
    assert applied == [9]


def test_handler_writes_roll_back_when_it_fails(
    client, shop, monkeypatch, django_capture_on_commit_callbacks
):
    def half_done(*, shop, payload, delivery):
        Shop.objects.filter(pk=shop.pk).update(name="half-written")
        raise ValueError("second step failed")

    monkeypatch.setitem(routing._ROUTES, "test/half", half_done)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_post(client, shop_domain=shop.domain, topic="test/half", payload={})
    shop.refresh_from_db()
    assert shop.name != "half-written"
    assert deliveries().get().last_error == "ValueError: second step failed"


def test_a_delivery_whose_task_was_lost_is_swept_up(client, shop, recorded, sweep):
    # No on-commit capture: the queued task never ran, as after a crash.
    webhook_post(client, shop_domain=shop.domain, topic="test/recorded", payload={"id": 5})
    delivery = deliveries().get()
    assert delivery.status == WebhookDelivery.Status.RECEIVED
    assert sweep() == []  # too recent to call lost
    assert sweep(now=timezone.now() + timedelta(minutes=11)) == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    assert [payload for _, payload, _ in recorded] == [{"id": 5}]


def test_the_retry_sweep_is_scheduled_every_minute():
    from django_q.models import Schedule

    from tenants.schedules import WEBHOOK_RETRY_SCHEDULE, schedules_ensure

    schedules_ensure()  # idempotent: running it again keeps one schedule
    schedule = Schedule.objects.get(name=WEBHOOK_RETRY_SCHEDULE)
    assert schedule.func == "tenants.webhooks.tasks.webhook_deliveries_retry_due_task"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
