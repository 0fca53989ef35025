"""The candidate queue: full scan on a generated store, dismissals remembered, privacy, command."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from customers.models import Customer, Order
from customers.privacy import customer_redact
from merges.incremental import duplicates_check_customers
from merges.models import DismissedPair, DuplicateCandidate
from merges.services import duplicate_dismiss, duplicates_find
from merges.tests.stores import load_generated
from tenants.errors import DomainError
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    ids, truth = load_generated(shop, count=1500, seed=5)
    return shop, ids, truth


def test_full_scan_proposes_true_duplicates_with_explanations(store):
    shop, ids, truth = store
    messages = []
    result = duplicates_find(shop_id=shop.id, full=True, progress=messages.append)

    candidates = list(DuplicateCandidate.all_shops.filter(shop=shop))
    assert result.candidates == len(candidates) > 0 and any("pairs" in m for m in messages)
    cluster_of = {ids[m]: i for i, cluster in enumerate(truth.clusters) for m in cluster}
    pure = [c for c in candidates if len({cluster_of.get(m, -m) for m in c.members}) == 1]
    assert len(pure) >= 0.8 * len(candidates)
    found_pairs = {(a, b) for c in pure for a in c.members for b in c.members if a < b}
    true_pairs = {tuple(sorted((ids[a], ids[b]))) for a, b in truth.true_pairs()}
    assert len(found_pairs & true_pairs) >= 0.8 * len(true_pairs)
    sample = candidates[0]
    assert sample.survivor_id in sample.members and sample.survivor_reason
    edge = sample.explanation["edges"][0]
    assert {row["field"] for row in edge["rows"]} >= {
        "prior",
        "email",
        "phone",
        "first_name",
        "last_name",
        "address",
    }
    assert AuditEvent.objects.filter(event="duplicates.scanned", shop_id=shop.id).exists()


def test_dismissed_pairs_are_not_proposed_again_until_fields_change(store):
    shop, _, _ = store
    duplicates_find(shop_id=shop.id, full=True)
    # A pair: in a larger group the members' other dismissed pairs decide who stays grouped.
    candidate = next(
        c
        for c in DuplicateCandidate.all_shops.filter(shop=shop).order_by("pk")
        if len(c.members) == 2
    )
    low, high = candidate.members
    with pytest.raises(DomainError, match="reason"):
        duplicate_dismiss(candidate=candidate, reason=" ")
    duplicate_dismiss(candidate=candidate, reason="different people (siblings)")
    assert DismissedPair.all_shops.filter(
        shop=shop, customer_low_id=low, customer_high_id=high
    ).exists()
    assert AuditEvent.objects.filter(
        event="duplicate.dismissed", target_id=str(candidate.pk)
    ).exists()

    def proposed_together() -> bool:
        return any(
            low in c.members and high in c.members
            for c in DuplicateCandidate.all_shops.filter(shop=shop, status="open")
        )

    duplicates_find(shop_id=shop.id, full=True)
    assert not proposed_together()
    assert DuplicateCandidate.all_shops.get(pk=candidate.pk).status == "dismissed"

    Customer.all_shops.filter(pk=high).update(note="unrelated")  # not a matching field
    duplicates_find(shop_id=shop.id, full=True)
    assert not proposed_together()
    # Their matching fields change (both take up a new mailbox; the names are made equal): the pair
    # may be proposed again. The address must be new: copying the other side's address changes
    # nothing when the two already normalise alike (lukasb93@googlemail.com is ...@gmail.com).
    other = Customer.all_shops.get(pk=low)
    mailbox = f"same.person.{low}@example.org"
    Customer.all_shops.filter(pk=high).update(
        email=mailbox, first_name=other.first_name, last_name=other.last_name
    )
    Customer.all_shops.filter(pk=low).update(email=mailbox)
    duplicates_find(shop_id=shop.id, full=True)
    assert proposed_together()


def test_redacted_customer_leaves_no_candidates(store):
    shop, _, _ = store
    duplicates_find(shop_id=shop.id, full=True)
    candidate = DuplicateCandidate.all_shops.filter(shop=shop).first()
    victim = Customer.all_shops.get(pk=candidate.members[0])
    customer_redact(shop=shop, shopify_customer_id=victim.shopify_id)
    assert not [c for c in DuplicateCandidate.all_shops.filter(shop=shop) if victim.pk in c.members]
    duplicates_find(shop_id=shop.id, full=True)
    assert not [c for c in DuplicateCandidate.all_shops.filter(shop=shop) if victim.pk in c.members]


def test_find_duplicates_command(store, capsys):
    shop, _, _ = store
    call_command("find_duplicates", shop.domain, "--full")
    out = capsys.readouterr().out
    assert "candidate pairs" in out and f"{shop.domain}: 1500 customers" in out
    with pytest.raises(CommandError, match="no shop"):
        call_command("find_duplicates", "nope.myshopify.com")


def candidate_of(shop, customer_id: int):
    found = [
        (sorted(c.members), c.survivor_id, round(c.probability, 9), c.tier)
        for c in DuplicateCandidate.all_shops.filter(shop=shop, status="open")
        if customer_id in c.members
    ]
    return found


def known_customers(ids, truth) -> list[Customer]:
    """First profiles of true duplicate clusters that carry a full name and an email: a copy of
    one is recognisably the same person (a profile without a name shares only its email)."""
    firsts = Customer.all_shops.filter(pk__in=[ids[cluster[0]] for cluster in truth.clusters])
    by_pk = {c.pk: c for c in firsts if c.first_name and c.last_name and c.email}
    return [by_pk[ids[c[0]]] for c in truth.clusters if ids[c[0]] in by_pk]


def test_incremental_check_equals_full_scan_for_the_changed_customer(store):
    shop, ids, truth = store
    duplicates_find(shop_id=shop.id, full=True)
    # A new profile of a known customer arrives (a webhook): the same person, nickname-free copy.
    first = known_customers(ids, truth)[0]
    newcomer = Customer.all_shops.create(
        shop=shop,
        shopify_id=999_999_999,
        gid="gid://shopify/Customer/999999999",
        first_name=first.first_name,
        last_name=first.last_name,
        email=first.email,
        phone=first.phone,
    )
    duplicates_check_customers(shop_id=shop.id, customer_ids=[newcomer.pk])
    incremental = candidate_of(shop, newcomer.pk)
    assert incremental and first.pk in incremental[0][0]

    duplicates_find(shop_id=shop.id, full=True, refit=False)
    assert candidate_of(shop, newcomer.pk) == incremental


def test_mirror_change_checks_the_changed_customers(store, django_capture_on_commit_callbacks):
    """The mirror's hook (webhooks, delta syncs) runs the incremental check (inline under pytest)."""
    from customers.hooks import mirror_changed_notify, registered

    assert "merges.tasks.mirror_changed" in registered()["mirror_changed"]
    shop, ids, truth = store
    duplicates_find(shop_id=shop.id, full=True)
    first = known_customers(ids, truth)[1]
    newcomer = Customer.all_shops.create(
        shop=shop,
        shopify_id=999_999_998,
        gid="gid://shopify/Customer/999999998",
        first_name=first.first_name,
        last_name=first.last_name,
        email=first.email,
        phone=first.phone,
    )
    with django_capture_on_commit_callbacks(execute=True):  # hooks run after commit
        mirror_changed_notify(shop_id=shop.id, customer_ids=[newcomer.pk], reason="webhook")
    assert any(first.pk in members for members, *_ in candidate_of(shop, newcomer.pk))


def _stored(shop):
    rows = DuplicateCandidate.all_shops.filter(shop=shop, status=DuplicateCandidate.Status.OPEN)
    return sorted(
        json.dumps([c.members, c.survivor_id, c.probability, c.explanation], sort_keys=True)
        for c in rows
    )


def _reference(shop):
    """What propose() makes of the shop's keys when it builds its own table and reads the order
    history itself (the path the incremental check and fs-3's scan take)."""
    from merges.detection import blocking
    from merges.fitting import matcher_model
    from merges.services import _candidate, _propose

    model = matcher_model(shop_id=shop.id)
    records = blocking.match_fields_load(shop_id=shop.id)
    pairs = blocking.candidate_pairs(shop_id=shop.id)
    now = timezone.now()
    return sorted(
        json.dumps(
            json.loads(json.dumps([c.members, c.survivor_id, c.probability, c.explanation])),
            sort_keys=True,
        )
        for c in (
            _candidate(shop.id, g, e, now) for g, e in _propose(shop.id, model, records, pairs)
        )
    )


def test_full_scan_table_built_once_scores_the_order_history_like_propose(store):
    """The full scan builds one table (with the order history) for the fit and the scoring; its
    candidates equal propose()'s own reading, after a fit and with a stored model whose product
    popularity differs from today's (scored with the model's, as fs-3 does)."""
    shop, ids, truth = store
    clusters = [c for c in truth.clusters if len(c) >= 2][:40]
    others = [pk for pk in ids.values() if pk not in {ids[m] for c in clusters for m in c}]
    orders, n = [], 0

    def order(customer_id, products):
        nonlocal n
        n += 1
        orders.append(
            Order(
                shop=shop,
                shopify_id=880_000_000 + n,
                customer_id=customer_id,
                customer_shopify_id=880_000_000 + n,
                product_ids=products,
            )
        )

    for i, cluster in enumerate(clusters):
        for m in cluster:
            order(ids[m], [5_000 + i, 1])
    for pk in others[:300]:
        order(pk, [1])
    Order.all_shops.bulk_create(orders)
    duplicates_find(shop_id=shop.id, full=True)
    after_fit = _stored(shop)
    assert after_fit == _reference(shop)
    assert any('"field": "orders"' in c and "5000" in c for c in after_fit)

    # Product 5000 becomes popular after the fit: the stored model still calls it rare.
    orders.clear()
    for pk in others[300:600]:
        order(pk, [5_000])
    Order.all_shops.bulk_create(orders)
    duplicates_find(shop_id=shop.id, full=True, refit=False)
    assert _stored(shop) == _reference(shop)


def test_group_members_are_read_as_the_orm_reads_them(store):
    """The survivor facts of a full scan's group members are read with one array parameter."""
    from merges.services import _MEMBER_COLUMNS, _member_rows

    shop, _, _ = store
    ids = list(Customer.all_shops.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    Customer.all_shops.filter(pk=ids[0]).update(
        merge_blockers=["GIFT_CARDS", "SUBSCRIPTIONS"],
        is_mergeable=False,
        created_at_shopify=timezone.now(),
        state="ENABLED",
    )
    chosen = [*ids[:40], 10**12]  # one id that is no customer
    orm = Customer.all_shops.filter(shop=shop, pk__in=chosen).values_list(*_MEMBER_COLUMNS)
    read = _member_rows(shop.id, chosen)
    assert sorted(read) == sorted(orm) and len(read) == 40
    assert dict((r[0], r[-1]) for r in read)[ids[0]] == ["GIFT_CARDS", "SUBSCRIPTIONS"]
