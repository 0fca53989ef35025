"""Builders for tenant rows used across the test suite."""

import itertools

from django.contrib.auth import get_user_model
from django.utils import timezone

from tenants.models import Agency, Membership, Shop
from tenants.roles import Role

_seq = itertools.count(1)

# (role, allowed) for actions only owners and admins may take, to parametrize tests with.
OWNERS_AND_ADMINS = [
    (Role.OWNER, True),
    (Role.ADMIN, True),
    (Role.REVIEWER, False),
    (Role.EDITOR, False),
    (Role.VIEWER, False),
]


def agency_factory(*, name: str | None = None) -> Agency:
    n = next(_seq)
    return Agency.objects.create(name=name or f"Agency {n}", slug=f"agency-{n}")


def user_factory(*, username: str | None = None, password: str = "pw-for-tests-1"):
    n = next(_seq)
    return get_user_model().objects.create_user(
        username=username or f"user{n}", email=f"user{n}@example.com", password=password
    )


def membership_factory(*, agency: Agency, user=None, role: str = Role.VIEWER) -> Membership:
    return Membership.objects.create(agency=agency, user=user or user_factory(), role=role)


def shop_factory(
    *, agency: Agency, domain: str | None = None, token: str = "shpat_test_token", **extra
) -> Shop:
    n = next(_seq)
    return Shop.objects.create(
        agency=agency,
        domain=domain or f"store-{n}.myshopify.com",
        access_token=token,
        scopes=["read_customers", "write_customers"],
        installed_at=timezone.now(),
        **extra,
    )


def api_key_factory(*, agency: Agency, scope: str = "write", name: str = "test program", **extra):
    """An API key and its plain value (the only time the plain value exists)."""
    from tenants.actors import SYSTEM_ACTOR
    from tenants.services import api_key_create

    return api_key_create(agency=agency, name=name, scope=scope, actor=SYSTEM_ACTOR, **extra)


def api_client(*, user=None, key: str | None = None, agency: Agency | None = None):
    """A DRF test client signed in as `user` (session) or sending `key` as a Bearer token."""
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_login(user)
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    if agency is not None:
        client.defaults["HTTP_X_AGENCY"] = agency.slug
    return client
