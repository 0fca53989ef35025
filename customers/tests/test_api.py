"""The customer mirror API: filters, search, field selection, pagination, nested shop routes,
permissions and tenant isolation."""

import json

import pytest

from audit.models import AuditEvent
from customers.ingest import BulkIngest
from customers.models import Customer, SyncRun
from customers.privacy import customer_data_request
from customers.tests.test_ingest import address_line, customer_line, item_line, order_line
from customers.writer import customer_aggregates_refresh
from tenants.models import Shop
from tenants.roles import Role
from tenants.tests.factories import (
    agency_factory,
    api_client,
    api_key_factory,
    membership_factory,
    shop_factory,
)

pytestmark = pytest.mark.django_db


def mirror(shop, lines):
    BulkIngest(shop_id=shop.id).consume([json.dumps(line) for line in lines])
    customer_aggregates_refresh(shop_id=shop.id)


@pytest.fixture
def world():
    agency = agency_factory()
    shop_a = shop_factory(
        agency=agency, country_code="DE", customer_accounts=Shop.AccountsVersion.CLASSIC
    )
    shop_b = shop_factory(agency=agency, country_code="US")
    mirror(
        shop_a,
        [
            customer_line(
                1,
                firstName="Ada",
                lastName="Lovelace",
                tags=["VIP", "newsletter"],
                updated="2024-01-01T00:00:00Z",
            ),
            address_line(1, 1),
            customer_line(
                2,
                firstName="Bob",
                tags=["wholesale"],
                state="DISABLED",
                updated="2025-06-01T00:00:00Z",
            ),
            order_line(10, 1, "120.00"),
            item_line(10, 1, 300, ["shoes"]),
            order_line(11, 1, "30.00", day=6),
        ],
    )
    mirror(
        shop_b,
        [
            customer_line(
                3,
                firstName="Cy",
                tags=["vip"],
                defaultPhoneNumber={"phoneNumber": "(415) 555-2671"},
            )
        ],
    )
    Customer.all_shops.filter(shop=shop_b, shopify_id=3).update(phone_e164="+14155552671")
    other_agency = agency_factory()
    foreign_shop = shop_factory(agency=other_agency)
    mirror(foreign_shop, [customer_line(4, firstName="Foreign")])
    admin = membership_factory(agency=agency, role=Role.ADMIN).user
    viewer = membership_factory(agency=agency, role=Role.VIEWER).user
    return {
        "agency": agency,
        "a": shop_a,
        "b": shop_b,
        "foreign": foreign_shop,
        "admin": api_client(user=admin),
        "viewer": api_client(user=viewer),
        "outsider": api_client(user=membership_factory(agency=other_agency, role=Role.ADMIN).user),
    }


def ids(response):
    assert response.status_code == 200, response.content
    return sorted(row["shopify_id"] for row in response.json()["results"])


def test_list_spans_the_callers_shops_only(world):
    assert ids(world["viewer"].get("/api/v1/customers/")) == [1, 2, 3]
    assert ids(world["outsider"].get("/api/v1/customers/")) == [4]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("shop={a}", [1, 2]),
        ("shop={a},{b}", [1, 2, 3]),
        ("q=lovelace", [1]),
        ("q=ANNA.MUELLER%2B3%40gmail.com", [1, 2, 3]),  # the normalised email of every fixture
        ("q=%2B1 415 555 2671", [3]),
        ("tag=vip", [1, 3]),
        ("tag=vip,newsletter", [1]),
        ("tag=vi", []),
        ("state=DISABLED", [2]),
        ("state=ENABLED&state=DISABLED", [1, 2, 3]),
        ("email_marketing_state=SUBSCRIBED", [1, 2, 3]),
        ("orders_min=2", [1]),
        ("orders_max=0", [2, 3]),
        ("spent_min=100&spent_max=200", [1]),
        ("updated_since=2025-01-01T00:00:00Z", [2]),
    ],
)
def test_filters(world, query, expected):
    query = query.format(a=world["a"].id, b=world["b"].id)
    assert ids(world["viewer"].get(f"/api/v1/customers/?{query}")) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=ACTIVE", "state"),
        ("orders_min=many", "orders_min"),
        ("updated_since=yesterday", "updated_since"),
        ("shop=abc", "shop"),
        ("shop=1,abc", "shop"),
        ("shop=99999999999999999999", "shop"),
    ],
)
def test_bad_filter_values_are_refused_by_name(world, query, field):
    response = world["viewer"].get(f"/api/v1/customers/?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_deleted_customers_are_listed_only_on_request(world):
    Customer.all_shops.filter(shop=world["a"], shopify_id=2).update(
        deleted_at="2025-07-01T00:00:00Z"
    )
    assert ids(world["viewer"].get("/api/v1/customers/")) == [1, 3]
    assert ids(world["viewer"].get("/api/v1/customers/?include_deleted=true")) == [1, 2, 3]


def test_field_selection_and_unknown_fields(world):
    response = world["viewer"].get("/api/v1/customers/?fields=id,email,tags")
    assert set(response.json()["results"][0]) == {"id", "email", "tags"}
    refused = world["viewer"].get("/api/v1/customers/?fields=id,password")
    assert refused.status_code == 400 and "password" in refused.json()["error"]["message"]


def test_cursor_pagination_walks_every_customer_once(world):
    seen, url = [], "/api/v1/customers/?page_size=1"
    while url:
        body = world["viewer"].get(url).json()
        seen += [row["shopify_id"] for row in body["results"]]
        url = body["next"]
    assert sorted(seen) == [1, 2, 3] and len(seen) == 3


def test_detail_has_addresses_and_recent_orders_and_foreign_ids_are_404(world):
    ada = Customer.all_shops.get(shop=world["a"], shopify_id=1)
    body = world["viewer"].get(f"/api/v1/customers/{ada.id}/").json()
    assert [a["shopify_id"] for a in body["addresses"]] == [11]
    assert [o["shopify_id"] for o in body["recent_orders"]] == [11, 10]
    assert body["recent_orders"][1]["product_tags"] == ["shoes"]
    assert (body["number_of_orders"], body["amount_spent"]) == (2, "150.0000")
    foreign = Customer.all_shops.get(shop=world["foreign"])
    assert world["viewer"].get(f"/api/v1/customers/{foreign.id}/").status_code == 404


def test_sync_runs_of_a_shop_and_404_for_a_foreign_shop(world):
    SyncRun.all_shops.create(
        shop=world["a"], kind="full", status="succeeded", progress_done=5, progress_total=10
    )
    SyncRun.all_shops.create(shop=world["b"], kind="delta")
    body = world["viewer"].get(f"/api/v1/shops/{world['a'].id}/sync-runs/").json()
    assert [(r["kind"], r["progress_percent"]) for r in body["results"]] == [("full", 50.0)]
    assert world["viewer"].get(f"/api/v1/shops/{world['foreign'].id}/sync-runs/").status_code == 404
    assert world["viewer"].get("/api/v1/shops/nope/sync-runs/").status_code == 404


def test_post_sync_queues_a_run_visible_in_sync_runs(world):
    response = world["admin"].post(
        f"/api/v1/shops/{world['a'].id}/sync/", {"kind": "delta"}, format="json"
    )
    assert response.status_code == 202
    runs = world["admin"].get(f"/api/v1/shops/{world['a'].id}/sync-runs/").json()["results"]
    assert [(r["id"], r["kind"], r["status"]) for r in runs] == [
        (response.json()["sync_run"], "delta", "queued")
    ]
    assert world["viewer"].post(f"/api/v1/shops/{world['a'].id}/sync/").status_code == 403


def test_account_invites_and_report(world, django_capture_on_commit_callbacks):
    ada, bob = (Customer.all_shops.get(shop=world["a"], shopify_id=n) for n in (1, 2))
    url = f"/api/v1/shops/{world['a'].id}/account-invites/"
    with django_capture_on_commit_callbacks():
        response = world["admin"].post(url, {"customer_ids": [ada.id, bob.id]}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["counts"] == {"pending": 1, "skipped_already_enabled": 1}
    assert world["viewer"].post(url, {"customer_ids": [ada.id]}, format="json").status_code == 403
    foreign = Customer.all_shops.get(shop=world["foreign"])
    refused = world["admin"].post(url, {"customer_ids": [foreign.id]}, format="json")
    assert refused.status_code == 400 and str(foreign.id) in refused.json()["error"]["message"]
    new_accounts = world["admin"].post(
        f"/api/v1/shops/{world['b'].id}/account-invites/", {"customer_ids": [1]}, format="json"
    )
    assert new_accounts.status_code == 400  # shop b: customer 1 is not its customer
    Shop.objects.filter(pk=world["b"].pk).update(customer_accounts=Shop.AccountsVersion.NEW)
    cy = Customer.all_shops.get(shop=world["b"])
    refused_new = world["admin"].post(
        f"/api/v1/shops/{world['b'].id}/account-invites/", {"customer_ids": [cy.id]}, format="json"
    )
    assert (
        refused_new.status_code == 409
        and refused_new.json()["error"]["code"] == "new_customer_accounts"
    )
    report = world["viewer"].get(f"/api/v1/shops/{world['a'].id}/account-report/").json()
    assert (report["customers"], report["enabled"], report["share_enabled"]) == (2, 1, 0.5)
    assert (
        world["viewer"].get(f"/api/v1/shops/{world['foreign'].id}/account-report/").status_code
        == 404
    )


def test_data_exports_are_for_admins_and_downloads_are_audited(world):
    export = customer_data_request(shop=world["a"], shopify_customer_id=1)
    assert world["viewer"].get("/api/v1/customer-data-exports/").status_code == 403
    listed = world["admin"].get("/api/v1/customer-data-exports/").json()["results"]
    assert [row["id"] for row in listed] == [export.id]
    detail = world["admin"].get(f"/api/v1/customer-data-exports/{export.id}/")
    assert detail.status_code == 200 and "payload" not in detail.json()
    assert "Ada" not in detail.content.decode()  # personal data only via the audited download
    download = world["admin"].get(f"/api/v1/customer-data-exports/{export.id}/download/")
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    assert json.loads(download.content)["customer"]["first_name"] == "Ada"
    assert AuditEvent.objects.filter(
        event="customer.data_export_downloaded", target_id=str(export.id)
    ).exists()
    assert (
        world["outsider"].get(f"/api/v1/customer-data-exports/{export.id}/download/").status_code
        == 404
    )


def test_read_only_key_lists_customers(world):
    _, key = api_key_factory(agency=world["agency"], scope="read")
    assert ids(api_client(key=key).get("/api/v1/customers/")) == [1, 2, 3]
