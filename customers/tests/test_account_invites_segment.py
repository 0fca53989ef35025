"""Account invites to every member of a segment, through the API and the sandbox: who is skipped,
throttling, a failure mid-batch and its resume, refusal on new-accounts shops, bad segment ids."""

import ast

import pytest
from django_q.models import Schedule

from audit.models import AuditEvent
from customers.models import AccountInvite, AccountInviteBatch, Customer
from customers.sources import BulkSource
from customers.sync import shop_full_sync
from customers.tasks import account_invites_send_task
from customers.tests.sandbox_compare import shop_for
from segments.services import segment_create, segment_refresh
from tenants.models import Shop
from tenants.roles import Role
from tenants.tests.factories import agency_factory, api_client, membership_factory, shop_factory

pytestmark = pytest.mark.django_db


def _sent(sandbox_store) -> list[str]:
    return [s["to"] for s in sandbox_store.store.extras.get("sent_invites", [])]


@pytest.fixture
def vip_shop(sandbox_store):
    """A classic-accounts shop mirrored from the sandbox with a 'VIPs' segment refreshed."""
    agency = agency_factory()
    shop = shop_for(sandbox_store, agency=agency, customer_accounts=Shop.AccountsVersion.CLASSIC)
    make = sandbox_store.create_customer
    make({"firstName": "Ina", "email": "ina@example.com", "state": "DISABLED", "tags": ["vip"]})
    make({"firstName": "Eve", "email": "eve@example.com", "state": "ENABLED", "tags": ["vip"]})
    make({"firstName": "Dora", "email": "dora@example.com", "state": "DECLINED", "tags": ["vip"]})
    make({"firstName": "Nemo", "phone": "+4915112345670", "state": "DISABLED", "tags": ["vip"]})
    make({"firstName": "Otto", "email": "otto@example.com", "state": "DISABLED"})
    make({"firstName": "Ulla", "email": "ulla@example.com", "state": "INVITED", "tags": ["vip"]})
    shop_full_sync(shop_id=shop.id, source=BulkSource(shop, poll_interval=0.05))
    segment = segment_create(
        agency=agency, name="VIPs", query="customer_tags CONTAINS 'vip'", shop_ids=[shop.pk]
    )
    segment_refresh(segment_id=segment.pk)
    admin = api_client(user=membership_factory(agency=agency, role=Role.ADMIN).user)
    return {"agency": agency, "shop": shop, "segment": segment, "admin": admin}


def _outcome(batch_id) -> dict:
    return {
        i.customer.first_name: (i.status, i.skip_reason)
        for i in AccountInvite.all_shops.filter(batch_id=batch_id).select_related("customer")
    }


def test_segment_invites_skip_the_right_members_survive_throttling_and_resume_mid_batch(
    sandbox_server, sandbox_store, vip_shop, django_capture_on_commit_callbacks
):
    shop, segment = vip_shop["shop"], vip_shop["segment"]
    graphql = {"path_contains": "/graphql.json", "shop": shop.domain}
    # Ina's send: 429 first (the client waits Retry-After and retries), then it goes through;
    # Ulla's send: a 503, which Shopify may or may not have acted on, so the batch pauses.
    sandbox_server.add_fault(kind="throttle", retry_after=0.1, **graphql)
    sandbox_server.add_fault(kind="slow", delay_seconds=0, **graphql)
    sandbox_server.add_fault(kind="error", status=503, **graphql)
    url = f"/api/v1/shops/{shop.pk}/account-invites/"
    with django_capture_on_commit_callbacks(execute=True):
        response = vip_shop["admin"].post(url, {"segment_id": segment.pk}, format="json")
    assert response.status_code == 202, response.content
    batch_id = response.json()["id"]
    assert response.json()["source"] == f"segment:{segment.pk}"
    assert response.json()["counts"] == {
        "pending": 2,
        "skipped_already_enabled": 1,
        "skipped_declined": 1,
        "skipped_no_email": 1,
    }  # Otto is not in the segment: not in the batch at all

    logged = [
        (entry["status"], (entry["fault"] or {}).get("kind"))
        for entry in sandbox_server.control("GET", "/_sandbox/requests")[1]["requests"]
        if entry["path"].startswith(f"/store/{shop.domain}/") and entry["fault"]
    ]
    assert logged == [(429, "throttle"), (200, "slow"), (503, "error")]
    assert _sent(sandbox_store) == ["ina@example.com"]
    assert _outcome(batch_id)["Ina"] == ("sent", "")
    assert _outcome(batch_id)["Ulla"] == ("pending", "")
    batch = AccountInviteBatch.all_shops.get(pk=batch_id)
    assert batch.status == "queued" and "503" in batch.error
    resume = Schedule.objects.get(name=f"shop:{shop.pk}:account-invites-{batch_id}")
    assert resume.func == "customers.tasks.account_invites_send_task"
    assert resume.schedule_type == Schedule.ONCE

    # The scheduled resume sends what is left and nothing twice.
    account_invites_send_task(*ast.literal_eval(resume.args))
    assert _sent(sandbox_store) == ["ina@example.com", "ulla@example.com"]
    assert _outcome(batch_id) == {
        "Ina": ("sent", ""),
        "Eve": ("skipped", "already_enabled"),
        "Dora": ("skipped", "declined"),
        "Nemo": ("skipped", "no_email"),
        "Ulla": ("sent", ""),
    }
    batch.refresh_from_db()
    assert (batch.status, batch.error) == ("done", "")
    sends = AuditEvent.objects.filter(event="account_invite.sent", shop_id=shop.pk)
    assert sends.count() == 2
    report = vip_shop["admin"].get(f"/api/v1/shops/{shop.pk}/account-report/").json()
    assert (report["customers"], report["invited"], report["enabled"], report["declined"]) == (
        6,
        2,
        1,
        1,
    )


def test_a_batch_whose_worker_died_is_resumed_through_the_api(
    vip_shop, sandbox_store, django_capture_on_commit_callbacks
):
    shop = vip_shop["shop"]
    url = f"/api/v1/shops/{shop.pk}/account-invites/"
    # The send task is never run (the worker died with it): the batch keeps its pending rows.
    with django_capture_on_commit_callbacks(execute=False):
        created = vip_shop["admin"].post(url, {"segment_id": vip_shop["segment"].pk}, format="json")
    batch_id = created.json()["id"]
    assert _sent(sandbox_store) == []
    with django_capture_on_commit_callbacks(execute=True):
        resumed = vip_shop["admin"].post(f"{url}{batch_id}/resume/")
    assert resumed.status_code == 202, resumed.content
    assert _sent(sandbox_store) == ["ina@example.com", "ulla@example.com"]
    assert AccountInviteBatch.all_shops.get(pk=batch_id).status == "done"
    assert AuditEvent.objects.filter(event="account_invite.resumed").count() == 1
    again = vip_shop["admin"].post(f"{url}{batch_id}/resume/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "nothing_pending"


def test_segment_invites_are_refused_on_new_customer_accounts_shops(vip_shop, sandbox_store):
    shop = vip_shop["shop"]
    Shop.objects.filter(pk=shop.pk).update(customer_accounts=Shop.AccountsVersion.NEW)
    response = vip_shop["admin"].post(
        f"/api/v1/shops/{shop.pk}/account-invites/",
        {"segment_id": vip_shop["segment"].pk},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "new_customer_accounts"
    assert "uses new customer accounts" in response.json()["error"]["message"]
    assert not AccountInviteBatch.all_shops.filter(shop=shop).exists()
    assert not AuditEvent.objects.filter(event="account_invite.requested").exists()
    assert _sent(sandbox_store) == []


def test_bad_segment_requests_answer_400_naming_the_field_and_record_nothing(vip_shop):
    shop, agency = vip_shop["shop"], vip_shop["agency"]
    url = f"/api/v1/shops/{shop.pk}/account-invites/"
    other_agency = agency_factory()
    foreign = segment_create(
        agency=other_agency,
        name="Foreign",
        query="number_of_orders >= 0",
        shop_ids=[shop_factory(agency=other_agency).pk],
    )
    elsewhere = segment_create(
        agency=agency,
        name="Other shop only",
        query="number_of_orders >= 0",
        shop_ids=[shop_factory(agency=agency).pk],
    )
    empty = segment_create(
        agency=agency, name="Nobody", query="number_of_orders >= 1000", shop_ids=[shop.pk]
    )
    segment_refresh(segment_id=empty.pk)
    customer = Customer.all_shops.filter(shop=shop).first()
    cases = [
        ({"segment_id": foreign.pk}, "segment_id"),
        ({"segment_id": elsewhere.pk}, "segment_id"),
        ({"segment_id": "twelve"}, "segment_id"),
        ({"segment_id": vip_shop["segment"].pk, "customer_ids": [customer.pk]}, "segment_id"),
        ({}, "customer_ids"),
    ]
    for body, field in cases:
        response = vip_shop["admin"].post(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["error"]["fields"], (body, response.json())
    nobody = vip_shop["admin"].post(url, {"segment_id": empty.pk}, format="json")
    assert nobody.status_code == 400 and "has no members" in nobody.json()["error"]["message"]
    assert not AccountInviteBatch.all_shops.exists()
