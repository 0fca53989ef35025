"""Outgoing webhooks end to end: API subscription, refreshes, signed POSTs to a real local HTTP
receiver, retries with backoff, bounded attempts, pages, URL rules. PostgreSQL."""

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEvent
from notifications import emit, signing
from notifications.models import WebhookDelivery
from notifications.services import MAX_ATTEMPTS, webhook_deliveries_due_send
from segments.services import (
    group_set_install_built_in,
    group_set_refresh,
    segment_create,
    segment_refresh,
)
from segments.tests.query.mirror_data import insert_customer
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db


def subscribe(world, receiver, **body):
    answer = world["client"].post(
        "/api/v1/webhook-subscriptions/", {"url": receiver.url, **body}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    receiver.secret = answer.json()["secret"]
    return answer.json()


def test_a_refresh_is_one_signed_delivery_the_receiver_verifies(
    world, receiver, django_capture_on_commit_callbacks
):
    created = subscribe(world, receiver, segments=[world["segment"].pk])
    assert created["secret"].startswith("whsec_") and created["segments"] == [world["segment"].pk]
    listed = world["reader"].get("/api/v1/webhook-subscriptions/").json()["results"]
    assert [s["id"] for s in listed] == [created["id"]] and "secret" not in listed[0]

    with django_capture_on_commit_callbacks(execute=True):
        run = segment_refresh(segment_id=world["segment"].pk)

    assert run.entered == 3
    (hit,) = receiver.received  # one delivery for the refresh, not one per customer
    assert hit.signature_ok
    assert hit.headers[signing.EVENT_HEADER] == "segment.members_changed"
    payload = hit.payload
    assert payload["segment"] == world["segment"].pk and payload["pages"] == 1
    assert {(e["customer"], e["kind"]) for e in payload["events"]} == {
        (b.pk, "entered") for b in world["buyers"]
    }
    delivery = WebhookDelivery.objects.get()
    assert str(delivery.pk) == hit.headers[signing.DELIVERY_HEADER]
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)

    # What a receiver must refuse: a changed body, another secret, an old timestamp.
    timestamp = hit.headers[signing.TIMESTAMP_HEADER]
    signature = hit.headers[signing.SIGNATURE_HEADER]
    tampered = hit.body.replace(b'"entered"', b'"exited"', 1)
    assert tampered != hit.body

    def valid(body=hit.body, secret=receiver.secret, now=None):
        return signing.signature_valid(
            secret, body=body, timestamp_header=timestamp, signature_header=signature, now=now
        )

    assert valid()
    assert not valid(body=tampered)
    assert not valid(secret="whsec_other")
    assert not valid(now=int(timestamp) + signing.MAX_AGE_SECONDS + 1)  # a replay, later

    page = world["reader"].get(f"/api/v1/webhook-subscriptions/{created['id']}/deliveries/")
    (row,) = page.json()["results"]
    assert (row["status"], row["attempts"], row["last_status_code"], row["events"]) == (
        "delivered",
        1,
        200,
        3,
    )

    # A refresh that changes nothing sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=world["segment"].pk)
    assert len(receiver.received) == 1


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
    world, receiver, django_capture_on_commit_callbacks
):
    subscribe(world, receiver, segments=[world["segment"].pk], kinds=["entered"])
    receiver.answers = [503, 500]
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=world["segment"].pk)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 1, 503)
    assert "503" in delivery.last_error
    first_wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert first_wait == timedelta(seconds=30)

    assert webhook_deliveries_due_send(now=delivery.last_attempt_at + timedelta(seconds=29)) == 0
    webhook_deliveries_due_send(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 2, 500)
    assert delivery.next_attempt_at - delivery.last_attempt_at == 2 * first_wait  # doubled

    webhook_deliveries_due_send(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert delivery.last_error == "" and delivery.delivered_at >= start
    # Every attempt carried the same body, each freshly signed.
    bodies = {hit.body for hit in receiver.received}
    assert len(receiver.received) == 3 and len(bodies) == 1
    assert all(hit.signature_ok for hit in receiver.received)


def test_attempts_are_bounded_then_the_delivery_is_failed(
    world, receiver, django_capture_on_commit_callbacks
):
    created = subscribe(world, receiver, segments=[world["segment"].pk])
    receiver.then = 500
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=world["segment"].pk)
    delivery = WebhookDelivery.objects.get()
    while delivery.status == "retrying":
        webhook_deliveries_due_send(now=delivery.next_attempt_at)
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "failed",
        MAX_ATTEMPTS,
        None,
    )
    assert len(receiver.received) == MAX_ATTEMPTS
    failed = world["reader"].get(
        f"/api/v1/webhook-subscriptions/{created['id']}/deliveries/?status=failed"
    )
    assert [row["id"] for row in failed.json()["results"]] == [delivery.pk]
    assert (
        world["reader"]
        .get(f"/api/v1/webhook-subscriptions/{created['id']}/deliveries/?status=nope")
        .status_code
        == 400
    )


def test_a_big_refresh_is_paged_and_group_moves_are_sent(
    world, receiver, django_capture_on_commit_callbacks
):
    lifecycle = group_set_install_built_in(agency=world["agency"], kind="lifecycle")
    subscribe(
        world,
        receiver,
        segments=[world["segment"].pk],
        groups=["lifecycle:prospects"],
        kinds=["entered"],
    )
    with mock.patch.object(emit, "PAGE_SIZE", 2), django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=world["segment"].pk)
        group_set_refresh(group_set_id=lifecycle.pk)

    segment_pages = [h.payload for h in receiver.received if h.payload.get("segment")]
    assert sorted((p["page"], p["pages"], len(p["events"])) for p in segment_pages) == [
        (1, 2, 2),
        (2, 2, 1),
    ]
    assert len({p["batch"] for p in segment_pages}) == 1  # one refresh
    (moves,) = [h.payload for h in receiver.received if h.payload.get("group_set")]
    assert moves["group"] == "prospects"
    assert [(e["customer"], e["kind"], e["to"]) for e in moves["events"]] == [
        (world["browser"].pk, "entered", "prospects")
    ]
    assert all(hit.signature_ok for hit in receiver.received)


def test_history_before_the_subscription_is_not_replayed(
    world, receiver, django_capture_on_commit_callbacks
):
    segment_refresh(segment_id=world["segment"].pk)  # 3 entered, before anyone subscribed
    subscribe(world, receiver, segments=[world["segment"].pk])
    newcomer = insert_customer(world["shop"], {"number_of_orders": 5})
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=world["segment"].pk)
    (hit,) = receiver.received
    assert [e["customer"] for e in hit.payload["events"]] == [newcomer.pk]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "http and https"),
        ("http://user:pw@example.com/hook", "credentials"),
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://localhost/hook", "private"),
        ("http://169.254.169.254/latest", "private"),
    ],
)
def test_unsafe_urls_are_refused_in_production(world, url, why):
    with override_settings(OUTGOING_WEBHOOKS_ALLOW_PRIVATE=False):
        answer = world["client"].post(
            "/api/v1/webhook-subscriptions/",
            {"url": url, "segments": [world["segment"].pk]},
            format="json",
        )
    assert answer.status_code == 400
    assert why in answer.json()["error"]["fields"]["url"][0]
    assert not AuditEvent.objects.filter(event="webhook_subscription.created").exists()


def test_a_public_address_is_accepted_in_production(world):
    with override_settings(OUTGOING_WEBHOOKS_ALLOW_PRIVATE=False):
        answer = world["client"].post(
            "/api/v1/webhook-subscriptions/",
            {"url": "https://93.184.216.34/hook", "segments": [world["segment"].pk]},
            format="json",
        )
    assert answer.status_code == 201, answer.json()


def test_bad_input_is_refused_and_changes_are_audited(world, receiver):
    other = agency_factory()
    foreign = segment_create(
        agency=other,
        name="Theirs",
        query="number_of_orders >= 1",
        shop_ids=[shop_factory(agency=other).pk],
    )
    client, reader = world["client"], world["reader"]
    url = "/api/v1/webhook-subscriptions/"
    for body, field in [
        ({"url": receiver.url, "segments": [foreign.pk]}, "segments"),
        ({"url": receiver.url}, "segments"),
        ({"url": receiver.url, "groups": ["lifecycle:nope"]}, "groups"),
        ({"url": receiver.url, "segments": [world["segment"].pk], "kinds": ["moved"]}, "kinds"),
    ]:
        answer = client.post(url, body, format="json")
        assert answer.status_code == 400 and field in answer.json()["error"]["fields"], body
    assert reader.post(url, {"url": receiver.url}, format="json").status_code == 403

    created = subscribe(world, receiver, segments=[world["segment"].pk])
    made = AuditEvent.objects.get(event="webhook_subscription.created")
    assert made.actor.startswith("api_key:") and made.data["segments"] == [world["segment"].pk]
    assert json.dumps(made.data).find("whsec_") == -1  # the secret is never audited
    assert reader.delete(f"{url}{created['id']}/").status_code == 403
    assert client.delete(f"{url}{created['id']}/").status_code == 204
    assert AuditEvent.objects.filter(event="webhook_subscription.deleted").count() == 1
    assert client.get(f"{url}{created['id']}/").status_code == 404


def test_incremental_refreshes_send_their_own_delivery(
    world, receiver, django_capture_on_commit_callbacks
):
    from customers.models import Customer
    from segments.services import segment_refresh_customers

    segment_refresh(segment_id=world["segment"].pk)
    subscribe(world, receiver, segments=[world["segment"].pk])
    leaver = world["buyers"][0]
    Customer.all_shops.filter(pk=leaver.pk).update(number_of_orders=0)
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh_customers(segment_id=world["segment"].pk, customer_ids=[leaver.pk])
    (hit,) = receiver.received
    assert hit.signature_ok
    assert [(e["customer"], e["kind"]) for e in hit.payload["events"]] == [(leaver.pk, "exited")]


def test_a_delivery_of_a_deleted_subscription_is_dropped_quietly(
    world, receiver, django_capture_on_commit_callbacks
):
    from notifications.services import webhook_delivery_attempt

    created = subscribe(world, receiver, segments=[world["segment"].pk])
    receiver.then = 500
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=world["segment"].pk)
    delivery_id = WebhookDelivery.objects.get().pk
    assert (
        world["client"].delete(f"/api/v1/webhook-subscriptions/{created['id']}/").status_code == 204
    )
    assert (
        webhook_delivery_attempt(delivery_id=delivery_id, now=timezone.now() + timedelta(hours=1))
        is None
    )
    assert len(receiver.received) == 1  # only the first attempt, before the deletion
