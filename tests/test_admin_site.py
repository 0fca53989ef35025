"""The Django admin is for platform operators (superusers) and never shows export payloads."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from customers.models import CustomerDataExport
from tenants.tests.factories import agency_factory, shop_factory, user_factory

pytestmark = pytest.mark.django_db


def test_staff_without_superuser_gets_no_admin_even_with_every_permission():
    staff = user_factory()
    staff.is_staff = True
    staff.save()
    staff.user_permissions.set(Permission.objects.all())
    browser = Client()
    browser.force_login(staff)
    for url in ["/admin/", "/admin/tenants/shop/", "/admin/customers/customerdataexport/"]:
        response = browser.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url


def test_superuser_sees_the_export_but_not_its_payload(admin_client):
    shop = shop_factory(agency=agency_factory())
    export = CustomerDataExport.all_shops.create(
        shop=shop,
        customer_shopify_id=4242,
        payload={"customer": {"email": "private-person@example.com", "phone": "+4915550001"}},
    )
    for url in [
        "/admin/customers/customerdataexport/",
        f"/admin/customers/customerdataexport/{export.pk}/change/",
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "4242" in html
        assert "private-person@example.com" not in html and "+4915550001" not in html
        assert "payload" not in html.lower()
