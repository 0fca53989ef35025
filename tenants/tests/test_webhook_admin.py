import pytest
from django.contrib.auth import get_user_model

from tenants.tests.factories import agency_factory, shop_factory
from tenants.webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def test_failed_deliveries_are_listed_and_can_be_retried(client):
    shop = shop_factory(agency=agency_factory(), domain="admin-view.myshopify.com")
    failed = WebhookDelivery.all_shops.create(
        shop=shop,
        webhook_id="w-1",
        topic="customers/update",
        payload={},
        status=WebhookDelivery.Status.FAILED,
        attempts=8,
        last_error="RuntimeError: mirror down",
    )
    done = WebhookDelivery.all_shops.create(
        shop=shop, webhook_id="w-2", topic="orders/create", payload={}, status="processed"
    )
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-admin-1")
    client.force_login(admin)
    response = client.get("/admin/tenants/webhookdelivery/?status=failed")
    page = response.content.decode()
    assert "RuntimeError: mirror down" in page and "admin-view.myshopify.com" in page
    assert list(response.context["cl"].result_list) == [failed]

    client.post(
        "/admin/tenants/webhookdelivery/",
        {"action": "retry_now", "_selected_action": [failed.pk, done.pk]},
    )
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.status, failed.attempts) == ("received", 0)
    assert failed.next_attempt_at is not None
    assert done.status == "processed"
