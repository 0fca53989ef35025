import pytest
from django.db import connection

from audit.models import AuditEvent
from tenants.models import Agency, ApiKey, Membership
from tenants.roles import Role
from tenants.tests.factories import (
    agency_factory,
    api_key_factory,
    membership_factory,
    shop_factory,
    user_factory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/tenants/agency/",
        "/admin/tenants/agency/?q=acme",
        "/admin/tenants/membership/?role__exact=owner",
        "/admin/tenants/shop/?status__exact=installed&q=store",
        "/admin/tenants/apikey/?scope__exact=read",
        "/admin/audit/auditevent/?event__exact=member.added",
        "/admin/audit/auditchainhead/",
    ],
)
def test_changelists_load_with_filters_and_search(admin_client, url):
    agency = agency_factory(name="Acme")
    membership_factory(agency=agency, role=Role.OWNER)
    shop_factory(agency=agency)
    api_key_factory(agency=agency, scope="read")
    response = admin_client.get(url)
    assert response.status_code == 200


def test_shop_pages_never_show_the_token(admin_client):
    shop = shop_factory(agency=agency_factory(), token="shpat_admin_must_not_see")
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM tenants_shop WHERE id = %s", [shop.pk])
        (ciphertext,) = cursor.fetchone()
    for url in ["/admin/tenants/shop/", f"/admin/tenants/shop/{shop.pk}/change/"]:
        html = admin_client.get(url).content.decode()
        assert shop.domain in html
        assert "shpat_admin_must_not_see" not in html and ciphertext not in html
        assert "access_token" not in html


def test_api_key_pages_never_show_the_hash(admin_client):
    api_key, plain = api_key_factory(agency=agency_factory())
    for url in ["/admin/tenants/apikey/", f"/admin/tenants/apikey/{api_key.pk}/change/"]:
        html = admin_client.get(url).content.decode()
        assert api_key.prefix in html
        assert api_key.secret_hash not in html and plain not in html
        assert "secret_hash" not in html


def test_admin_creates_a_key_through_the_service_and_shows_it_once(admin_client):
    agency = agency_factory()
    response = admin_client.post(
        "/admin/tenants/apikey/add/",
        {"agency": agency.pk, "name": "crm export", "scope": "read"},
        follow=True,
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get(agency=agency, name="crm export")
    shown = [str(m) for m in response.context["messages"]]
    assert any(api_key.prefix + "." in line and "not shown again" in line for line in shown)
    event = AuditEvent.objects.get(event="api_key.created", target_id=str(api_key.pk))
    assert event.actor_user is not None
    # The next page does not show it any more.
    again = admin_client.get(f"/admin/tenants/apikey/{api_key.pk}/change/").content.decode()
    assert "not shown again" not in again


def test_admin_revoke_action(admin_client):
    api_key, _ = api_key_factory(agency=agency_factory())
    admin_client.post(
        "/admin/tenants/apikey/",
        {"action": "revoke_selected", "_selected_action": [api_key.pk]},
    )
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert AuditEvent.objects.filter(event="api_key.revoked").count() == 1


def test_admin_agency_creation_is_audited(admin_client):
    admin_client.post("/admin/tenants/agency/add/", {"name": "Blue Fox Studio", "slug": ""})
    agency = Agency.objects.get(name="Blue Fox Studio")
    assert agency.slug == "blue-fox-studio"
    assert AuditEvent.objects.filter(agency=agency, event="agency.created").exists()


def test_admin_membership_changes_go_through_the_rules(admin_client):
    agency = agency_factory()
    owner = membership_factory(agency=agency, role=Role.OWNER)
    newcomer = user_factory()
    added = admin_client.post(
        "/admin/tenants/membership/add/",
        {"agency": agency.pk, "user": newcomer.pk, "role": "editor"},
    )
    assert added.status_code == 302
    assert Membership.objects.get(agency=agency, user=newcomer).role == Role.EDITOR
    assert AuditEvent.objects.filter(agency=agency, event="member.added").count() == 1
    # Demoting the last owner is refused on the form, with the reason, and changes nothing.
    refused = admin_client.post(f"/admin/tenants/membership/{owner.pk}/change/", {"role": "viewer"})
    assert refused.status_code == 200
    assert "The last owner cannot be demoted" in refused.content.decode()
    owner.refresh_from_db()
    assert owner.role == Role.OWNER
    # And deleting the last owner is not offered at all.
    assert admin_client.get(f"/admin/tenants/membership/{owner.pk}/delete/").status_code == 403
    # A duplicate is refused with a message too.
    duplicate = admin_client.post(
        "/admin/tenants/membership/add/",
        {"agency": agency.pk, "user": newcomer.pk, "role": "viewer"},
    )
    assert "Membership with this Agency and User already exists" in duplicate.content.decode()
    assert AuditEvent.objects.filter(agency=agency, event="member.added").count() == 1


def test_audit_log_is_read_only_in_admin(admin_client):
    agency = agency_factory()
    membership_factory(agency=agency)
    from tenants.services import agency_create

    agency_create(name="Audited")
    event = AuditEvent.objects.first()
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
    page = admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and "Save" not in page.content.decode()
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
