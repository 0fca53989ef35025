"""Outgoing webhook subscriptions: pause and resume (nothing sent meanwhile, everything after),
secret rotation (both signatures during the grace period, then only the new one), audit, bad
input and other agencies. A real local HTTP receiver checks every signature."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from customers.models import Customer
from notifications import signing
from notifications.models import WebhookDelivery, WebhookSubscription
from notifications.services import webhook_deliveries_due_send
from notifications.tests.test_outgoing_webhooks import subscribe
from segments.services import segment_refresh
from tenants.roles import Role
from tenants.tests.factories import agency_factory, api_client, membership_factory, user_factory

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhook-subscriptions/"


def customers_sent(receiver) -> list[tuple[int, str]]:
    return sorted(
        (e["customer"], e["kind"]) for hit in receiver.received for e in hit.payload["events"]
    )


def test_a_paused_subscription_sends_nothing_and_catches_up_on_resume(
    world, receiver, django_capture_on_commit_callbacks
):
    created = subscribe(world, receiver, segments=[world["segment"].pk])
    client, url = world["client"], f"{URL}{created['id']}/"
    receiver.answers = [500]  # the first delivery fails once: it is waiting when we pause
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=world["segment"].pk)
    waiting = WebhookDelivery.objects.get()
    assert waiting.status == "retrying"

    answer = client.post(f"{url}pause/")
    assert answer.status_code == 200 and answer.json()["active"] is False
    assert answer.json()["paused_at"]
    assert client.post(f"{url}pause/").status_code == 200  # again: nothing changes
    (paused,) = AuditEvent.objects.filter(event="webhook_subscription.paused")
    assert paused.actor.startswith("api_key:") and paused.data == {"waiting_deliveries": 1}

    # While paused: a refresh makes no delivery, and the waiting one is not attempted.
    Customer.all_shops.filter(pk=world["browser"].pk).update(number_of_orders=1)
    with django_capture_on_commit_callbacks(execute=True):
        run = segment_refresh(segment_id=world["segment"].pk)
    assert run.entered == 1
    assert WebhookDelivery.objects.count() == 1
    assert webhook_deliveries_due_send(now=timezone.now() + timedelta(days=1)) == 0
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == ("retrying", 1)  # no attempt used up
    assert len(receiver.received) == 1

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"{url}resume/")
    assert answer.status_code == 200 and answer.json()["active"] is True
    assert answer.json()["paused_at"] is None
    # The waiting delivery went out, and the pause's refresh became a delivery of its own.
    assert len(receiver.received) == 3 and all(hit.signature_ok for hit in receiver.received)
    buyers = [(b.pk, "entered") for b in world["buyers"]]
    assert customers_sent(receiver) == sorted([*buyers, *buyers, (world["browser"].pk, "entered")])
    statuses = list(WebhookDelivery.objects.order_by("pk").values_list("status", "events"))
    assert statuses == [("delivered", 3), ("delivered", 1)]
    (resumed,) = AuditEvent.objects.filter(event="webhook_subscription.resumed")
    assert resumed.data["waiting_deliveries"] == 1 and resumed.data["paused_at"]
    assert client.post(f"{url}resume/").status_code == 200  # again: nothing changes
    assert AuditEvent.objects.filter(event="webhook_subscription.resumed").count() == 1


def test_a_rotated_secret_signs_beside_the_old_one_for_the_grace_period(
    world, receiver, django_capture_on_commit_callbacks
):
    created = subscribe(world, receiver, segments=[world["segment"].pk])
    old = created["secret"]
    answer = world["client"].post(
        f"{URL}{created['id']}/rotate-secret/", {"grace_hours": 24}, format="json"
    )
    assert answer.status_code == 200, answer.content
    new = answer.json()["secret"]
    assert new.startswith("whsec_") and new != old
    shown = world["reader"].get(f"{URL}{created['id']}/").json()
    assert "secret" not in shown and shown["secret_rotated_at"]
    until = WebhookSubscription.objects.get(pk=created["id"]).previous_secret_until
    assert timedelta(hours=23, minutes=59) < until - timezone.now() <= timedelta(hours=24)

    receiver.answers = [500]  # so the same delivery is attempted again after the grace period
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=world["segment"].pk)
    (during,) = receiver.received

    def verifies(hit, secret):
        return signing.signature_valid(
            secret,
            body=hit.body,
            timestamp_header=hit.headers[signing.TIMESTAMP_HEADER],
            signature_header=hit.headers[signing.SIGNATURE_HEADER],
        )

    assert during.headers[signing.SIGNATURE_HEADER].count("v1=") == 2
    assert verifies(during, old) and verifies(during, new)  # a receiver holding either accepts
    assert not verifies(during, "whsec_someone_else")

    webhook_deliveries_due_send(now=until + timedelta(seconds=1))
    after = receiver.received[1]
    assert after.headers[signing.SIGNATURE_HEADER].count("v1=") == 1
    assert verifies(after, new) and not verifies(after, old)
    assert WebhookDelivery.objects.get().status == "delivered"

    event = AuditEvent.objects.get(event="webhook_subscription.secret_rotated")
    assert event.actor.startswith("api_key:") and event.data["grace_hours"] == 24
    assert old not in json.dumps(event.data) and new not in json.dumps(event.data)


def test_a_rotation_without_grace_signs_with_the_new_secret_only(
    world, receiver, django_capture_on_commit_callbacks
):
    created = subscribe(world, receiver, segments=[world["segment"].pk])
    old = receiver.secret
    answer = world["client"].post(
        f"{URL}{created['id']}/rotate-secret/", {"grace_hours": 0}, format="json"
    )
    receiver.secret = answer.json()["secret"]
    assert answer.json()["previous_secret_until"] is None
    with django_capture_on_commit_callbacks(execute=True):
        segment_refresh(segment_id=world["segment"].pk)
    (hit,) = receiver.received
    assert hit.signature_ok and hit.headers[signing.SIGNATURE_HEADER].count("v1=") == 1
    assert not signing.signature_valid(
        old,
        body=hit.body,
        timestamp_header=hit.headers[signing.TIMESTAMP_HEADER],
        signature_header=hit.headers[signing.SIGNATURE_HEADER],
    )


def test_bad_input_roles_and_other_agencies_change_nothing(world, receiver):
    created = subscribe(world, receiver, segments=[world["segment"].pk])
    url = f"{URL}{created['id']}/"
    before = WebhookSubscription.objects.get(pk=created["id"])
    for body in ({"grace_hours": -1}, {"grace_hours": 169}, {"grace_hours": "soon"}):
        answer = world["client"].post(f"{url}rotate-secret/", body, format="json")
        assert answer.status_code == 400, body
        assert "grace_hours" in answer.json()["error"]["fields"]
    for action in ("pause/", "resume/", "rotate-secret/"):
        assert world["reader"].post(f"{url}{action}").status_code == 403  # read-only key
    viewer = user_factory()
    membership_factory(agency=world["agency"], user=viewer, role=Role.VIEWER)
    assert api_client(user=viewer).post(f"{url}pause/").status_code == 403
    stranger = user_factory()
    membership_factory(agency=agency_factory(), user=stranger, role=Role.OWNER)
    foreign = api_client(user=stranger)
    for action in ("pause/", "resume/", "rotate-secret/"):
        assert foreign.post(f"{url}{action}").status_code == 404

    after = WebhookSubscription.objects.get(pk=created["id"])
    assert (after.secret, after.active, after.previous_secret) == (before.secret, True, "")
    assert not AuditEvent.objects.filter(
        event__in=[
            "webhook_subscription.paused",
            "webhook_subscription.resumed",
            "webhook_subscription.secret_rotated",
        ]
    ).exists()
