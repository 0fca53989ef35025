"""The API base on a shop-owned model (scope + filter) and the error body for every failure kind."""

import pytest
from django_scopes import scopes_disabled

from customers.models import Customer
from tenants.tests.factories import agency_factory, api_client, api_key_factory, shop_factory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api_base_urls")]


def _customer(shop, name):
    with scopes_disabled():
        return Customer.objects.create(
            shop=shop,
            shopify_id=abs(hash(name)) % 10**9,
            gid=f"gid://shopify/Customer/{name}",
            first_name=name,
        )


@pytest.fixture
def two_agencies():
    mine, other = agency_factory(), agency_factory()
    my_shops = [shop_factory(agency=mine), shop_factory(agency=mine)]
    foreign_shop = shop_factory(agency=other)
    rows = {
        "mine": [_customer(my_shops[0], "ann"), _customer(my_shops[1], "bob")],
        "foreign": _customer(foreign_shop, "eve"),
    }
    _, key = api_key_factory(agency=mine, scope="read")
    return api_client(key=key), my_shops, foreign_shop, rows


def test_shop_owned_rows_are_limited_to_the_agencys_shops(two_agencies):
    client, _, _, rows = two_agencies
    listed = client.get("/api/v1/customers/").json()["results"]
    assert [row["first_name"] for row in listed] == ["ann", "bob"]
    assert client.get(f"/api/v1/customers/{rows['mine'][1].pk}/").status_code == 200
    foreign = client.get(f"/api/v1/customers/{rows['foreign'].pk}/")
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "not_found"


def test_a_foreign_id_in_a_filter_looks_like_a_missing_one(two_agencies):
    client, my_shops, foreign_shop, _ = two_agencies
    own = client.get(f"/api/v1/customers/?shop={my_shops[1].pk}").json()["results"]
    assert [row["first_name"] for row in own] == ["bob"]
    foreign = client.get(f"/api/v1/customers/?shop={foreign_shop.pk}")
    missing = client.get("/api/v1/customers/?shop=999999999")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json() == missing.json()
    assert list(foreign.json()["error"]["fields"]) == ["shop"]


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/unscoped/", 404, "not_found"),  # ScopeError is never a 500
        ("/api/v1/missing/", 404, "not_found"),  # DoesNotExist
        ("/api/v1/conflict/", 409, "clash"),  # a domain error keeps its status and code
        ("/api/v1/crash/", 500, "server_error"),  # the unexpected: same body, logged
    ],
)
def test_every_failure_has_the_one_error_body(url, status, code):
    _, key = api_key_factory(agency=agency_factory())
    response = api_client(key=key).get(url)
    assert response.status_code == status
    body = response.json()
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert "boom" not in body["error"]["message"]  # internals are logged, not shown
