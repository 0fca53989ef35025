import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from tenants.models import Shop, validate_shop_domain
from tenants.roles import Permission, Role, role_has
from tenants.tests.factories import agency_factory, shop_factory


@pytest.mark.parametrize(
    "domain",
    ["acme.myshopify.com", "a1-b2.myshopify.com", "0shop.myshopify.com"],
)
def test_valid_shop_domains(domain):
    assert validate_shop_domain(domain) == domain


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "-acme.myshopify.com",
        "ACME.myshopify.com",
        "acme.myshopify.com.evil.com",
        "acme.shopify.com",
        "ac_me.myshopify.com",
        "https://acme.myshopify.com",
        "acme.myshopify.com/",
        None,
    ],
)
def test_invalid_shop_domains(domain):
    with pytest.raises(ValidationError):
        validate_shop_domain(domain)


@pytest.mark.django_db
def test_access_token_is_encrypted_at_rest():
    shop = shop_factory(agency=agency_factory(), token="shpat_supersecret_0123456789")
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM tenants_shop WHERE id = %s", [shop.pk])
        (raw,) = cursor.fetchone()
    assert "shpat_supersecret_0123456789" not in raw
    assert raw.startswith("gAAAA")  # Fernet token
    assert Shop.objects.get(pk=shop.pk).access_token == "shpat_supersecret_0123456789"


def test_role_permission_map():
    assert role_has(Role.OWNER, Permission.INSTALL_SHOPS)
    assert role_has(Role.ADMIN, Permission.MANAGE_API_KEYS)
    assert role_has(Role.REVIEWER, Permission.APPROVE_MERGES)
    assert not role_has(Role.REVIEWER, Permission.INSTALL_SHOPS)
    assert role_has(Role.EDITOR, Permission.EDIT_SEGMENTS)
    assert not role_has(Role.EDITOR, Permission.APPROVE_MERGES)
    assert not role_has(Role.VIEWER, Permission.EDIT_SEGMENTS)
    assert role_has(Role.VIEWER, Permission.READ)
    assert not role_has("stranger", Permission.READ)
