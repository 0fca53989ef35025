"""Account invites: who is skipped, refusal on new-accounts shops, the per-shop report."""

import json

import pytest

from audit.models import AuditEvent
from customers.accounts import InvitesNotAvailable, account_invites_request, account_report
from customers.ingest import BulkIngest
from customers.models import AccountInvite, AccountInviteBatch, Customer
from customers.tests.test_ingest import customer_line
from tenants.models import Shop
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), customer_accounts=Shop.AccountsVersion.CLASSIC)


@pytest.fixture
def customers(shop):
    lines = [
        customer_line(1, state="DISABLED"),
        customer_line(2, state="ENABLED"),
        customer_line(3, state="DECLINED"),
        customer_line(4, state="INVITED"),
        customer_line(5, state="DISABLED", defaultEmailAddress=None),
        customer_line(6, state="DISABLED"),
    ]
    BulkIngest(shop_id=shop.id).consume([json.dumps(line) for line in lines])
    Customer.all_shops.filter(shop=shop, shopify_id=6).update(deleted_at="2025-01-01T00:00:00Z")
    return {c.shopify_id: c for c in Customer.all_shops.filter(shop=shop)}


def test_invites_skip_enabled_declined_emailless_and_inactive_customers(
    shop, customers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        batch = account_invites_request(
            shop=shop, customer_ids=[c.id for c in customers.values()], actor="user:7"
        )
    invites = {
        i.customer.shopify_id: (i.status, i.skip_reason)
        for i in AccountInvite.all_shops.filter(batch=batch).select_related("customer")
    }
    assert invites == {
        1: ("pending", ""),
        2: ("skipped", "already_enabled"),
        3: ("skipped", "declined"),
        4: ("pending", ""),  # invited before: a reminder is allowed
        5: ("skipped", "no_email"),
        6: ("skipped", "not_active"),
    }
    assert len(queued) == 1  # the send task, after commit
    event = AuditEvent.objects.get(event="account_invite.requested")
    assert event.data["pending"] == 2 and event.data["skipped"]["declined"] == 1
    assert event.actor == "user:7"


def test_a_batch_with_nobody_to_invite_is_done_at_once(
    shop, customers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        batch = account_invites_request(shop=shop, customer_ids=[customers[2].id, customers[3].id])
    assert batch.status == AccountInviteBatch.Status.DONE and queued == []


def test_new_customer_accounts_shop_is_refused_and_nothing_is_recorded(shop, customers):
    shop.customer_accounts = Shop.AccountsVersion.NEW
    shop.save()
    with pytest.raises(InvitesNotAvailable, match="uses new customer accounts"):
        account_invites_request(shop=shop, customer_ids=[customers[1].id])
    assert not AccountInviteBatch.all_shops.exists()
    assert not AuditEvent.objects.filter(event="account_invite.requested").exists()


def test_customers_of_another_shop_are_refused_by_id(shop, customers):
    other = shop_factory(agency=agency_factory())
    BulkIngest(shop_id=other.id).consume([json.dumps(customer_line(99))])
    foreign = Customer.all_shops.get(shop=other).id
    with pytest.raises(ValueError, match=f"customers not in shop {shop.domain}: {foreign}"):
        account_invites_request(shop=shop, customer_ids=[customers[1].id, foreign])
    assert not AccountInviteBatch.all_shops.exists()


def test_account_report_counts_active_customers_by_state(shop, customers):
    report = account_report(shop=shop)
    assert report["customers"] == 5  # the deleted one does not count
    assert (report["enabled"], report["invited"], report["declined"], report["disabled"]) == (
        1,
        1,
        1,
        2,
    )
    assert report["share_enabled"] == 0.2
    assert report["customer_accounts"] == "classic"


def test_sending_invites_through_the_sandbox_is_audited_resumable_and_records_refusals(
    sandbox_store,
):
    from customers.accounts import account_invites_send
    from customers.sources import BulkSource
    from customers.sync import shop_full_sync
    from customers.tests.sandbox_compare import shop_for

    shop = shop_for(sandbox_store, customer_accounts=Shop.AccountsVersion.CLASSIC)
    make = sandbox_store.create_customer
    invitee = make({"firstName": "Ina", "email": "ina@example.com", "state": "DISABLED"})
    make({"firstName": "Eve", "email": "eve@example.com", "state": "ENABLED"})
    make({"firstName": "Nemo", "phone": "+4915112345670", "state": "DISABLED"})
    changed = make({"firstName": "Dan", "email": "dan@example.com", "state": "DISABLED"})
    shop_full_sync(shop_id=shop.id, source=BulkSource(shop, poll_interval=0.05))
    # Dan accepted an invite on Shopify after the sync: the mirror still says DISABLED.
    sandbox_store.update_customer(changed["id"], {"state": "ENABLED"})

    batch = account_invites_request(
        shop=shop, customer_ids=Customer.all_shops.filter(shop=shop).values_list("id", flat=True)
    )
    account_invites_send(shop=shop, batch_id=batch.id)

    sent = sandbox_store.store.extras.get("sent_invites", [])
    assert [s["to"] for s in sent] == ["ina@example.com"]
    outcome = {
        i.customer.first_name: (i.status, i.skip_reason)
        for i in AccountInvite.all_shops.filter(batch=batch).select_related("customer")
    }
    assert outcome == {
        "Ina": ("sent", ""),
        "Eve": ("skipped", "already_enabled"),
        "Nemo": ("skipped", "no_email"),
        "Dan": ("failed", ""),
    }
    assert Customer.all_shops.get(shop=shop, gid=invitee["id"]).state == "INVITED"
    assert AuditEvent.objects.filter(event="account_invite.sent").count() == 1
    assert AuditEvent.objects.filter(event="account_invite.failed").count() == 1
    # Running the batch again (a retried task) sends nothing twice.
    account_invites_send(shop=shop, batch_id=batch.id)
    assert len(sandbox_store.store.extras.get("sent_invites", [])) == 1
    assert AccountInviteBatch.all_shops.get(pk=batch.pk).status == "done"


def test_a_batch_larger_than_one_slice_records_every_customer_once(
    shop, django_capture_on_commit_callbacks
):
    lines = [json.dumps(customer_line(n, state="DISABLED")) for n in range(1, 6002)]
    BulkIngest(shop_id=shop.id).consume(lines)
    ids = list(Customer.all_shops.filter(shop=shop).values_list("id", flat=True))
    with django_capture_on_commit_callbacks():
        batch = account_invites_request(shop=shop, customer_ids=ids)
    invited = AccountInvite.all_shops.filter(batch=batch)
    assert invited.count() == len(ids) == 6001
    assert set(invited.values_list("customer_id", flat=True)) == set(ids)
