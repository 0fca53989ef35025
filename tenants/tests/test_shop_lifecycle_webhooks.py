"""app/uninstalled and shop/redact arrive as webhooks and run through the intake."""

import pytest
from django.db import connection
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.tasks import async_task

from audit.models import AuditEvent
from audit.services import audit_chain_verify, audit_event_record
from tenants.jobs import shop_job_group, shop_schedule_name
from tenants.models import Shop
from tenants.shop_lifecycle import shop_uninstall
from tenants.tests.factories import agency_factory, shop_factory
from tenants.tests.webhook_helpers import webhook_post
from tenants.webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks, monkeypatch):
    def run(shop_domain, topic, payload):
        monkeypatch.setattr(Conf, "SYNC", True)
        with django_capture_on_commit_callbacks(execute=True):
            response = webhook_post(client, shop_domain=shop_domain, topic=topic, payload=payload)
        monkeypatch.setattr(Conf, "SYNC", False)
        assert response.status_code == 200, response.content
        return response

    return run


@pytest.fixture
def shop():
    agency = agency_factory()
    shop = shop_factory(agency=agency, domain="leaving.myshopify.com", token="shpat_leaving_1")
    audit_event_record(
        agency_id=agency.pk, event="shop.installed", shop_id=shop.pk, target_id=shop.pk
    )
    return shop


def test_app_uninstalled_drops_token_stops_jobs_keeps_data(shop, deliver):
    other = shop_factory(agency=shop.agency, domain="staying.myshopify.com")
    Schedule.objects.create(
        name=shop_schedule_name(shop.pk, "reconcile"), func="math.floor", args="1"
    )
    Schedule.objects.create(
        name=shop_schedule_name(other.pk, "reconcile"), func="math.floor", args="1"
    )
    # sync=False: tests run tasks inline by default; this one needs them queued.
    async_task("math.floor", 1, group=shop_job_group(shop.pk), sync=False)
    async_task("math.floor", 2, group=shop_job_group(other.pk), sync=False)
    assert OrmQ.objects.count() == 2

    deliver(shop.domain, "app/uninstalled", {"id": 1, "myshopify_domain": shop.domain})

    shop.refresh_from_db()
    assert shop.status == Shop.Status.UNINSTALLED
    assert shop.access_token == ""
    assert shop.uninstalled_at is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM tenants_shop WHERE id = %s", [shop.pk])
        assert cursor.fetchone() == ("",)
    assert list(
        Schedule.objects.filter(name__startswith="shop:").values_list("name", flat=True)
    ) == [shop_schedule_name(other.pk, "reconcile")]
    assert [q.task["group"] for q in OrmQ.objects.all()] == [shop_job_group(other.pk)]
    event = AuditEvent.objects.get(event="shop.uninstalled")
    assert (event.shop_id, event.actor, event.data["schedules"], event.data["queued_tasks"]) == (
        shop.pk,
        "shopify",
        1,
        1,
    )
    # The delivery itself is kept (data stays until shop/redact).
    assert WebhookDelivery.all_shops.filter(shop=shop, status="processed").count() == 1
    # After uninstall, ordinary topics are ignored ...
    deliver(shop.domain, "customers/update", {"id": 5})
    assert WebhookDelivery.all_shops.filter(shop=shop).count() == 1


def test_app_uninstalled_twice_records_once(shop, deliver):
    deliver(shop.domain, "app/uninstalled", {"id": 1})
    shop_uninstall(shop=shop)  # a repeated uninstall changes nothing
    assert AuditEvent.objects.filter(event="shop.uninstalled").count() == 1


def test_shop_redact_deletes_every_row_the_shop_owns_and_keeps_the_audit_chain(shop, deliver):
    other = shop_factory(agency=shop.agency, domain="neighbour.myshopify.com")
    deliver(other.domain, "shop/update", {"id": 2})
    deliver(shop.domain, "app/uninstalled", {"id": 1})
    assert WebhookDelivery.all_shops.filter(shop=shop).count() == 1

    deliver(shop.domain, "shop/redact", {"shop_id": 1, "shop_domain": shop.domain})

    assert not Shop.objects.filter(pk=shop.pk).exists()
    assert not WebhookDelivery.all_shops.filter(shop_id=shop.pk).exists()
    assert WebhookDelivery.all_shops.filter(shop=other).count() == 1  # the neighbour untouched
    events = list(
        AuditEvent.objects.filter(shop_id=shop.pk).order_by("seq").values_list("event", flat=True)
    )
    assert events == ["shop.installed", "shop.uninstalled", "shop.redacted"]
    redacted = AuditEvent.objects.get(event="shop.redacted")
    assert redacted.data["deleted"]["tenants.WebhookDelivery"] == 2  # uninstall + redact rows
    assert audit_chain_verify(agency_id=shop.agency_id) == (True, None)


def test_shop_redact_for_a_shop_installed_again_deletes_nothing(shop, deliver):
    deliver(shop.domain, "shop/redact", {"shop_id": 1, "shop_domain": shop.domain})
    assert Shop.objects.filter(pk=shop.pk, status=Shop.Status.INSTALLED).exists()
    assert AuditEvent.objects.filter(event="shop.redact_skipped", shop_id=shop.pk).exists()


def test_customer_privacy_topics_reach_the_mirror(shop, deliver):
    from customers.models import CustomerDataExport

    deliver(
        shop.domain,
        "customers/data_request",
        {
            "shop_id": 1,
            "customer": {"id": 191167},
            "orders_requested": [7],
            "data_request": {"id": 9},
        },
    )
    assert CustomerDataExport.all_shops.filter(shop=shop).count() == 1
    deliver(shop.domain, "customers/redact", {"shop_id": 1, "customer": {"id": 191167}})
    statuses = dict(WebhookDelivery.all_shops.filter(shop=shop).values_list("topic", "status"))
    assert statuses == {"customers/data_request": "processed", "customers/redact": "processed"}


def test_a_privacy_payload_without_customer_id_fails_at_once_and_visibly(shop, deliver):
    deliver(shop.domain, "customers/redact", {"shop_id": 1, "customer": {}})
    delivery = WebhookDelivery.all_shops.get(shop=shop, topic="customers/redact")
    assert delivery.status == WebhookDelivery.Status.FAILED  # retrying cannot help
    assert delivery.last_error == "DeliveryUnusable: payload has no customer.id"
    assert delivery.next_attempt_at is None
