"""Cross-tenant isolation: every /api/v1/ route, called with another agency's ids and keys."""

import pytest

from tests.isolation import api_routes, isolation_walk

pytestmark = pytest.mark.django_db


def test_every_api_route_keeps_agencies_apart():
    failures, exercised = isolation_walk()
    assert not failures, "\n".join(failures)
    # The walk really ran over the routes (it cannot pass by finding nothing).
    templates = {route.template for route in api_routes()}
    assert {
        "/api/v1/me/",
        "/api/v1/shops/",
        "/api/v1/shops/{pk}/",
        "/api/v1/shops/{pk}/sync/",
        "/api/v1/shops/{pk}/uninstall/",
        "/api/v1/members/",
        "/api/v1/members/{pk}/",
        "/api/v1/api-keys/",
        "/api/v1/api-keys/{pk}/revoke/",
        "/api/v1/duplicates/",
        "/api/v1/duplicates/{pk}/",
        "/api/v1/duplicates/{pk}/dismiss/",
    } <= templates
    assert len(exercised) >= 4 * len(templates)
    assert any(line.startswith("DELETE /api/v1/members/") for line in exercised)


@pytest.mark.urls("tests.isolation_leaky_urls")
def test_the_walk_catches_unscoped_views():
    failures, _ = isolation_walk()
    report = "\n".join(failures)
    # The escape-hatch viewset hands out the victim's shop by id and lists it...
    assert "GET /api/v1/leaky-shops/" in report and "answered 200 for a foreign id" in report
    assert "the list holds the victim's tenants.Shop rows" in report
    # ...and the plain view is flagged for bypassing the base and for showing the victim's data.
    assert "PlainShopCountView is not built on tenants.api.base" in report
    assert "GET /api/v1/shop-domains/ as attacker owner (session): the response shows" in report


@pytest.mark.urls("tests.isolation_unexercisable_urls")
def test_a_route_the_walk_cannot_exercise_fails():
    failures, _ = isolation_walk()
    assert any("cannot tell which model URL kwarg 'widget_pk'" in f for f in failures), failures
