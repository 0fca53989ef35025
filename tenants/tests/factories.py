"""Builders for tenant rows used across the test suite."""

import itertools

from django.contrib.auth import get_user_model
from django.utils import timezone

from tenants.models import Agency, Membership, Shop
from tenants.roles import Role

_seq = itertools.count(1)


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
