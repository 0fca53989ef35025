"""The admin shows the mirror and sync progress (staff only, read-only)."""

import json

import pytest

from customers.ingest import BulkIngest
from customers.models import Customer, SyncRun
from customers.tests.test_ingest import customer_line
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    client.force_login(user)
    return client


def test_sync_runs_show_status_and_progress(staff):
    shop = shop_factory(agency=agency_factory())
    SyncRun.all_shops.create(
        shop=shop,
        kind="full",
        status="running",
        phase="orders",
        progress_done=30,
        progress_total=120,
    )
    page = staff.get("/admin/customers/syncrun/").content.decode()
    assert "running" in page and "25.0% (30/120)" in page


def test_customer_pages_render_and_cannot_be_edited(staff):
    shop = shop_factory(agency=agency_factory())
    BulkIngest(shop_id=shop.id).consume([json.dumps(customer_line(5, firstName="Ada"))])
    customer = Customer.all_shops.get(shop=shop)
    assert "Ada" in staff.get("/admin/customers/customer/").content.decode()
    detail = staff.get(f"/admin/customers/customer/{customer.id}/change/")
    assert detail.status_code == 200 and "Save" not in detail.content.decode()
    assert staff.get("/admin/customers/customer/add/").status_code == 403
    assert staff.get(f"/admin/customers/customer/{customer.id}/delete/").status_code == 403
    changelist = staff.get("/admin/customers/customer/").content.decode()
    assert "delete_selected" not in changelist
    assert Customer.all_shops.filter(shop=shop).count() == 1
