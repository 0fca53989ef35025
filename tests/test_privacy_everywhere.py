"""customers/redact, end to end: after the mirror, webhooks, data export, account invites,
segments, group sets and duplicate detection all saw a customer, no text-like column of any
table (every app's) still holds its personal data.

The customer has a true duplicate (same name, same email and phone in other spellings) that is
not erased: rows that belong to that other customer may hold the same strings, nothing else may.
"""

import pytest
from django.db import connection
from django_q.conf import Conf

from audit.services import audit_chain_verify
from customers.accounts import account_invites_request
from customers.models import Customer
from customers.sources import BulkSource
from customers.sync import shop_full_sync
from customers.tests.sandbox_compare import shop_for
from customers.tests.test_privacy import ADDRESS
from customers.tests.test_webhooks import customer_payload, order_payload
from merges.models import DismissedPair, DuplicateCandidate, MatcherFit
from merges.services import duplicate_dismiss, duplicates_find
from merges.tests.test_duplicates import load_generated
from segments.services import (
    group_set_create,
    group_set_refresh,
    segment_create,
    segment_refresh,
    snapshot_create,
)
from tenants.models import Shop
from tenants.tests.webhook_helpers import webhook_post
from tests.personal_data_scan import personal_data_hits, text_columns

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's catalogue"),
]

# Every spelling of the customer's personal data the database may hold.
MARKERS = [
    "zebulonia",
    "quagmirewitz",
    "kkmrwts",  # the surname's sound key
    "xanthippe",
    "zq.1977",
    "zq1977",
    "98765432",
    "xylophonweg",
    "quokkastadt",
    "qx-4711",
    "qx4711",
]


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks, monkeypatch):
    def run(shop, topic, payload):
        monkeypatch.setattr(Conf, "SYNC", True)
        with django_capture_on_commit_callbacks(execute=True):
            response = webhook_post(client, shop_domain=shop.domain, topic=topic, payload=payload)
        assert response.status_code == 200, response.content
        return response

    return run


def test_redaction_leaves_no_personal_data_in_any_table_of_any_app(sandbox_store, deliver):
    shop = shop_for(
        sandbox_store, country_code="DE", customer_accounts=Shop.AccountsVersion.CLASSIC
    )
    victim = sandbox_store.create_customer(
        {
            "firstName": "Zebulonia",
            "lastName": "Quagmirewitz",
            "email": "Zq.1977+shop@gmail.com",
            "phone": "+49 151 98765432",
            "note": "Prefers Xanthippe deliveries",
            "tags": ["zebulonia-vip"],
            "addresses": [{k: v for k, v in ADDRESS.items() if k not in ("id", "__parentId")}],
        }
    )
    twin = sandbox_store.create_customer(
        {
            "firstName": "Zebulonia",
            "lastName": "Quagmirewitz",
            "email": "zq1977@gmail.com",
            "phone": "+4915198765432",
        }
    )
    order = sandbox_store.place_order(victim["id"], totalPrice="25.00")
    shop_full_sync(shop_id=shop.id, source=BulkSource(shop, poll_interval=0.05))
    victim_sid = int(victim["id"].rsplit("/", 1)[1])
    order_sid = int(order["id"].rsplit("/", 1)[1])
    mirrored = Customer.all_shops.get(shop=shop, shopify_id=victim_sid)
    twin_row = Customer.all_shops.get(shop=shop, gid=twin["id"])

    # Webhooks through the real intake: their payloads are stored with the personal data.
    store = sandbox_store.store
    deliver(shop, "customers/update", customer_payload(store.customers[victim_sid]))
    deliver(shop, "orders/create", order_payload(store.orders[order_sid], store))
    # What other apps derive: segments, snapshots, groups, invites, duplicates and a dismissal.
    segment = segment_create(
        agency=shop.agency, name="Buyers", query="number_of_orders >= 1", shop_ids=[shop.pk]
    )
    segment_refresh(segment_id=segment.pk)
    snapshot_create(agency=shop.agency, segment_id=segment.pk, name="campaign")
    group_set = group_set_create(
        agency=shop.agency,
        name="Lifecycle",
        slug="lifecycle",
        groups=[{"name": "Buyers", "slug": "buyers", "query": "number_of_orders >= 1"}],
    )
    group_set_refresh(group_set_id=group_set.pk)
    account_invites_request(shop=shop, customer_ids=[mirrored.pk])
    load_generated(shop, count=300, seed=7)  # enough customers to fit the matcher
    duplicates_find(shop_id=shop.id, full=True)
    candidate = DuplicateCandidate.all_shops.get(shop=shop, members__contains=[mirrored.pk])
    assert twin_row.pk in candidate.members
    duplicate_dismiss(candidate=candidate, reason="Zebulonia Quagmirewitz says they are twins")
    deliver(
        shop,
        "customers/data_request",
        {
            "shop_id": 1,
            "shop_domain": shop.domain,
            "customer": {"id": victim_sid, "email": "zq.1977+shop@gmail.com"},
            "orders_requested": [order_sid],
            "data_request": {"id": 9999},
        },
    )

    before = personal_data_hits(MARKERS, except_customer=twin_row.pk)
    tables = {table for table, _column, _marker in before}
    # The scan reaches every app's tables, so a clean result after erasure means something.
    assert {
        "customers_customer",
        "customers_customeraddress",
        "customers_customerdataexport",
        "tenants_webhookdelivery",
        "merges_blockingkey",
        "merges_duplicatecandidate",
        "merges_dismissedpair",
        "merges_matcherfit",
    } <= tables, tables
    scanned = text_columns()
    assert {"audit_auditevent", "segments_segment", "segments_snapshot"} <= set(scanned)

    deliver(
        shop,
        "customers/redact",
        {
            "shop_id": 1,
            "shop_domain": shop.domain,
            "customer": {"id": victim_sid, "email": "zq.1977+shop@gmail.com"},
            "orders_to_redact": [order_sid],
        },
    )

    assert personal_data_hits(MARKERS, except_customer=twin_row.pk) == set()
    mirrored.refresh_from_db()
    assert mirrored.redacted_at is not None and mirrored.number_of_orders == 1
    # The twin keeps its data: the exclusion above hid nothing of the erased customer.
    twin_row.refresh_from_db()
    assert (twin_row.first_name, twin_row.email_normalized) == ("Zebulonia", "zq1977@gmail.com")
    assert not DismissedPair.all_shops.filter(shop=shop).exists()
    assert "tf" in MatcherFit.all_shops.get(shop=shop).params  # the fit itself stays usable
    assert audit_chain_verify(agency_id=shop.agency_id) == (True, None)
    assert ("customers_customer", "first_name", "zebulonia") in personal_data_hits(["zebulonia"])
