"""What a mirror change triggers: nothing for fields matching ignores, the incremental check for a
few customers, a scan with the stored weights for unknown ids, a refit only after a full re-read."""

import pytest

from customers.models import Customer, Order
from merges.incremental import (
    MATCH_RELEVANT_FIELDS,
    duplicates_check_customers,
    duplicates_check_needed,
    duplicates_mirror_changed,
)
from merges.models import DuplicateCandidate, MatcherFit
from merges.services import duplicate_dismiss, duplicates_find
from merges.tasks import mirror_changed
from merges.tests.stores import load_generated
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanned():
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    ids, truth = load_generated(shop, count=500, seed=21)
    duplicates_find(shop_id=shop.id, full=True)
    return shop, ids, truth


def copy_of(shop, customer: Customer, shopify_id: int) -> Customer:
    """A second profile of the same person, as a customers/create webhook would mirror it."""
    return Customer.all_shops.create(
        shop=shop,
        shopify_id=shopify_id,
        gid=f"gid://shopify/Customer/{shopify_id}",
        first_name=customer.first_name or "Anna",
        last_name=customer.last_name or "Quill",
        email=customer.email,
        phone=customer.phone,
    )


def well_known(shop, nth: int) -> Customer:
    """The nth customer with an email and a full name who is in no candidate yet, so a copy of it
    makes a clean pair (the generated data depends on the shop's domain)."""
    grouped = {
        m for members in DuplicateCandidate.all_shops.filter(shop=shop).values_list("members", flat=True)
        for m in members
    }  # fmt: skip
    found = (
        Customer.all_shops.filter(shop=shop)
        .exclude(pk__in=grouped)
        .exclude(email="")
        .exclude(first_name="")
        .exclude(last_name="")
        .order_by("pk")
    )
    return found[nth]


def proposed_with(shop, customer_id: int) -> list[list[int]]:
    return [
        c.members
        for c in DuplicateCandidate.all_shops.filter(shop=shop, status="open")
        if customer_id in c.members
    ]


def test_relevant_fields_are_customer_fields():
    names = {f.name for f in Customer._meta.get_fields()}
    assert names >= MATCH_RELEVANT_FIELDS
    assert duplicates_check_needed(changed=None)
    assert duplicates_check_needed(changed=frozenset({"email", "tags"}))
    consent = {"email_marketing_state", "email_marketing_opt_in_level", "updated_at_shopify"}
    assert not duplicates_check_needed(changed=frozenset(consent))
    orders = {"orders", "number_of_orders", "amount_spent", "last_order_at"}
    assert not duplicates_check_needed(changed=frozenset(orders))
    assert duplicates_check_needed(changed=frozenset({*orders, "order_products"}))


def orders_row(shop, customer_ids: list[int]) -> list[dict]:
    """The orders rows of the explanations of open candidates holding these customers."""
    return [
        row
        for candidate in DuplicateCandidate.all_shops.filter(shop=shop, status="open")
        for edge in candidate.explanation["edges"]
        if set(edge["customers"]) == set(customer_ids)
        for row in edge["rows"]
        if row["field"] == "orders"
    ]


def test_an_order_whose_products_changed_rescores_its_customer(scanned):
    """A new order (orders/create, a delta) with products: the hook hears "order_products" and
    the check re-scores the customer's candidates with the order history; an order change that
    kept the products (paid, fulfilled) is ignored."""
    shop, _, _ = scanned
    original = well_known(shop, 4)
    newcomer = copy_of(shop, original, 888_000_005)
    mirror_changed(shop_id=shop.id, customer_ids=[newcomer.pk], reason="webhook")
    (before,) = orders_row(shop, [original.pk, newcomer.pk])
    assert "990011" not in before["left"] + before["right"]

    for n, customer in enumerate((original, newcomer)):
        Order.all_shops.create(
            shop=shop,
            shopify_id=777_100_000 + n,
            customer=customer,
            customer_shopify_id=customer.shopify_id,
            product_ids=[990_011],
        )
    paid = frozenset({"orders", "number_of_orders", "amount_spent"})
    mirror_changed(shop_id=shop.id, customer_ids=[newcomer.pk], reason="webhook", changed=paid)
    assert orders_row(shop, [original.pk, newcomer.pk]) == [before]  # not checked

    mirror_changed(
        shop_id=shop.id,
        customer_ids=[newcomer.pk],
        reason="webhook",
        changed=paid | {"order_products"},
    )
    (after,) = orders_row(shop, [original.pk, newcomer.pk])
    assert "990011" in after["left"] and "990011" in after["right"]
    assert after["level"].startswith("bought the same product")


def test_hook_skips_changes_matching_ignores_and_checks_the_others(scanned):
    shop, _, _ = scanned
    original = well_known(shop, 0)
    newcomer = copy_of(shop, original, 888_000_001)

    for changed in ({"orders", "number_of_orders"}, {"sms_marketing_state"}, {"tags"}):
        mirror_changed(
            shop_id=shop.id,
            customer_ids=[newcomer.pk],
            reason="webhook",
            changed=frozenset(changed),
        )
        assert proposed_with(shop, newcomer.pk) == []

    mirror_changed(
        shop_id=shop.id, customer_ids=[newcomer.pk], reason="webhook", changed=frozenset({"email"})
    )
    assert any(original.pk in members for members in proposed_with(shop, newcomer.pk))

    # A caller of the old interface (no `changed`) is checked as "anything may have changed".
    other = well_known(shop, 1)
    second = copy_of(shop, other, 888_000_002)
    mirror_changed(shop_id=shop.id, customer_ids=[second.pk], reason="webhook")
    assert any(other.pk in members for members in proposed_with(shop, second.pk))


def test_small_changes_never_refit_and_only_full_reads_do(scanned):
    shop, _, _ = scanned
    fitted = MatcherFit.all_shops.get(shop=shop).fitted_at
    original = well_known(shop, 2)
    newcomer = copy_of(shop, original, 888_000_003)

    ran = duplicates_mirror_changed(shop_id=shop.id, customer_ids=[newcomer.pk], reason="webhook")
    assert ran == "incremental" and proposed_with(shop, newcomer.pk)
    assert duplicates_mirror_changed(shop_id=shop.id, customer_ids=None, reason="delta") == "scan"
    assert MatcherFit.all_shops.get(shop=shop).fitted_at == fitted
    assert proposed_with(shop, newcomer.pk)

    ran = duplicates_mirror_changed(shop_id=shop.id, customer_ids=None, reason="full_sync")
    assert ran == "scan+refit" and MatcherFit.all_shops.get(shop=shop).fitted_at > fitted


def test_a_deleted_customer_leaves_its_open_candidates(scanned):
    shop, _, _ = scanned
    candidate = DuplicateCandidate.all_shops.filter(shop=shop, status="open").first()
    gone = candidate.members[0]
    Customer.all_shops.filter(pk=gone).update(deleted_at="2026-01-01T00:00:00Z")
    mirror_changed(
        shop_id=shop.id,
        customer_ids=[gone],
        reason="webhook",
        changed=frozenset({"deleted_at", "merged_into", "updated_at_shopify"}),
    )
    assert proposed_with(shop, gone) == []


def test_incremental_check_keeps_dismissed_pairs_apart_until_matching_fields_change(scanned):
    shop, _, _ = scanned
    candidate = next(
        c for c in DuplicateCandidate.all_shops.filter(shop=shop, status="open")
        if len(c.members) == 2
    )  # fmt: skip
    low, high = candidate.members
    duplicate_dismiss(candidate=candidate, reason="siblings")

    def together() -> bool:
        return any(high in members for members in proposed_with(shop, low))

    duplicates_check_customers(shop_id=shop.id, customer_ids=[low])
    assert not together()
    Customer.all_shops.filter(pk=high).update(note="called back", tags=["vip"])
    duplicates_check_customers(shop_id=shop.id, customer_ids=[high])
    assert not together()

    # A matching field changes on one side: the pair is a new question for the reviewer.
    other = Customer.all_shops.get(pk=low)
    same = {
        "email": other.email or "same.person@example.org",
        "phone": other.phone or "+4915112345678",
        "first_name": other.first_name or "Anna",
        "last_name": other.last_name or "Quill",
    }
    Customer.all_shops.filter(pk__in=[low, high]).update(**same)
    duplicates_check_customers(shop_id=shop.id, customer_ids=[low, high])
    assert together()
