"""The incremental check's PostgreSQL path (merges.incremental): a few statements per check, the
same candidates and keys as the portable one-query-per-step path, no writes when nothing
changed, and one check per drained burst of webhook changes."""

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from psycopg.pq import TransactionStatus

from customers.models import Customer, Order
from customers.outbox import mirror_change_record, mirror_changes_drain
from merges import incremental
from merges.detection import blocking
from merges.detection.blocking import MAX_KEY_SHARE
from merges.detection.keys import blocking_keys
from merges.fitting import matcher_model
from merges.incremental import _check_portable, duplicates_check_customers
from merges.models import BlockingKey, DuplicateCandidate
from merges.services import duplicate_dismiss, duplicates_find, propose
from merges.tests.stores import load_generated
from merges.tests.test_mirror_hook import copy_of, proposed_with, well_known
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement path"),
]


@pytest.fixture
def scanned():
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=500, seed=21)
    duplicates_find(shop_id=shop.id, full=True)
    return shop


def statements(captured) -> list[str]:
    """What the check sent, without the test transaction's savepoints."""
    return [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]


def checks_in(captured) -> int:
    return sum("pg_advisory_xact_lock" in sql for sql in statements(captured))


def open_candidates(shop) -> list[tuple]:
    rows = DuplicateCandidate.all_shops.filter(shop=shop, status="open").values_list(
        "members", "survivor_id", "survivor_reason", "probability", "tier", "explanation",
        "blockers", "needs_split",
    )  # fmt: skip
    return sorted((m, s, r, round(p, 9), t, e, b, n) for m, s, r, p, t, e, b, n in rows)


def key_rows(shop) -> set[tuple]:
    return set(
        BlockingKey.all_shops.filter(shop=shop).values_list("customer_id", "key_type", "key_value")
    )


def test_a_check_is_three_statements_and_none_writes_when_nothing_changed(scanned):
    shop = scanned
    original = well_known(shop, 0)
    newcomer = copy_of(shop, original, 888_100_001)
    matcher_model(shop_id=shop.id)  # a worker has the model cached after its first check

    with CaptureQueriesContext(connection) as first:
        duplicates_check_customers(shop_id=shop.id, customer_ids=[newcomer.pk])
    assert len(statements(first)) == 3, [s[:80] for s in statements(first)]
    assert any(original.pk in members for members in proposed_with(shop, newcomer.pk))
    (record,) = blocking.match_fields_load(shop_id=shop.id, customer_ids=[newcomer.pk])
    expected = {(newcomer.pk, t, v[:400]) for t, v in blocking_keys(record)}
    assert {k for k in key_rows(shop) if k[0] == newcomer.pk} == expected

    candidates = list(
        DuplicateCandidate.all_shops.filter(shop=shop).values_list("pk", "detected_at")
    )
    key_ids = set(BlockingKey.all_shops.filter(shop=shop).values_list("pk", flat=True))
    # A change of a field matching ignores (a note) reaches the check: it reads, writes nothing.
    Customer.all_shops.filter(pk=newcomer.pk).update(note="called back")
    with CaptureQueriesContext(connection) as again:
        duplicates_check_customers(shop_id=shop.id, customer_ids=[newcomer.pk])
    sent = statements(again)
    assert len(sent) == 2, sent
    assert not any(word in sql for sql in sent for word in ("INSERT INTO merges_duplicate",))
    assert "DELETE FROM merges_duplicatecandidate" not in " ".join(sent)
    after = list(DuplicateCandidate.all_shops.filter(shop=shop).values_list("pk", "detected_at"))
    assert after == candidates
    assert set(BlockingKey.all_shops.filter(shop=shop).values_list("pk", flat=True)) == key_ids


def _same_as_portable(shop, customer_ids: list[int]) -> None:
    """Run the portable path, roll it back, run the PostgreSQL path: same candidates, same keys."""
    savepoint = transaction.savepoint()
    _check_portable(shop.id, customer_ids)
    portable = open_candidates(shop), key_rows(shop)
    transaction.savepoint_rollback(savepoint)
    duplicates_check_customers(shop_id=shop.id, customer_ids=customer_ids)
    assert (open_candidates(shop), key_rows(shop)) == portable


def test_the_statement_path_gives_what_the_portable_path_gives(scanned):
    shop = scanned
    groups = list(DuplicateCandidate.all_shops.filter(shop=shop, status="open"))
    assert len(groups) >= 3
    # A new copy of a known customer (a customers/create webhook).
    newcomer = copy_of(shop, well_known(shop, 1), 888_100_002)
    _same_as_portable(shop, [newcomer.pk])
    # A member of a group changes its email and first name to a stranger's.
    member = Customer.all_shops.get(pk=groups[0].members[0])
    member.email, member.first_name = "someone.else@example.org", "Zebulon"
    member.save(update_fields=["email", "first_name"])
    _same_as_portable(shop, [member.pk])
    # A member of another group is deleted; two customers change in one check.
    Customer.all_shops.filter(pk=groups[1].members[0]).update(deleted_at="2026-01-01T00:00:00Z")
    second = copy_of(shop, well_known(shop, 2), 888_100_003)
    _same_as_portable(shop, [groups[1].members[0], second.pk])
    assert proposed_with(shop, groups[1].members[0]) == []
    assert not {k for k in key_rows(shop) if k[0] == groups[1].members[0]}


def test_one_delivery_is_one_check_and_a_burst_is_one_check(
    scanned, django_capture_on_commit_callbacks
):
    shop = scanned
    originals = [well_known(shop, i) for i in range(3, 6)]
    copies = [copy_of(shop, o, 888_100_010 + i) for i, o in enumerate(originals)]

    # One delivery: its change is recorded, the drain hands it to the hooks, one check runs.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        mirror_change_record(
            shop_id=shop.id, customer_ids=[copies[0].pk], changed={"email"}, reason="webhook"
        )
    assert any(originals[0].pk in m for m in proposed_with(shop, copies[0].pk))

    # A burst: three deliveries before the drain runs queue one drain; it runs one check.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        for copy in copies[1:] + copies[:1]:
            with transaction.atomic():
                mirror_change_record(
                    shop_id=shop.id, customer_ids=[copy.pk], changed={"email"}, reason="webhook"
                )
    assert len(queued) == 1  # the first delivery queues the shop's drain, the others join it
    with (
        CaptureQueriesContext(connection) as drained,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert mirror_changes_drain(shop_id=shop.id) == 3
    assert checks_in(drained) == 1
    # The hook asks the check directly; the model's stamp comes with the check's first statement.
    assert not any('"merges_matcherfit"' in sql for sql in statements(drained))
    for original, copy in zip(originals, copies, strict=True):
        assert any(original.pk in m for m in proposed_with(shop, copy.pk))


@pytest.mark.django_db(transaction=True)
def test_a_candidate_dismissed_while_the_check_runs_stays_dismissed(monkeypatch):
    """A reviewer dismisses a candidate after the check read it and before it writes: the
    check's replacement finds it no longer open, rolls back, runs again and reads the decision."""
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=500, seed=21)
    duplicates_find(shop_id=shop.id, full=True)
    candidate = next(
        c for c in DuplicateCandidate.all_shops.filter(shop=shop, status="open")
        if len(c.members) == 2
    )  # fmt: skip
    low, high = candidate.members
    # A new address on one side: the group's explanation changes, so the check must rewrite it.
    Customer.all_shops.filter(pk=low).update(default_address_city="Elsewhere")

    def dismiss_elsewhere() -> None:
        try:
            duplicate_dismiss(candidate=candidate, reason="siblings")
        finally:
            connection.close()

    attempts = []

    def propose_while_a_reviewer_dismisses(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:  # after the check's reads, in another connection, committed
            reviewer = threading.Thread(target=dismiss_elsewhere)
            reviewer.start()
            reviewer.join()
        return propose(*args, **kwargs)

    monkeypatch.setattr(incremental, "propose", propose_while_a_reviewer_dismisses)
    duplicates_check_customers(shop_id=shop.id, customer_ids=[low])
    assert len(attempts) == 2
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    assert DuplicateCandidate.all_shops.get(pk=candidate.pk).status == "dismissed"
    assert not any(high in members for members in proposed_with(shop, low))


def test_both_paths_compare_the_order_history(scanned):
    """The orders comparison reads the neighbourhood's orders in the same statement."""
    shop = scanned
    original = well_known(shop, 3)
    newcomer = copy_of(shop, original, 888_100_004)
    for n, customer in enumerate((original, newcomer)):
        Order.all_shops.create(
            shop=shop,
            shopify_id=777_000_000 + n,
            customer=customer,
            customer_shopify_id=customer.shopify_id,
            product_ids=[990_001, 990_002 + n],
        )
    _same_as_portable(shop, [newcomer.pk])
    rows = [
        row
        for candidate in DuplicateCandidate.all_shops.filter(shop=shop, status="open")
        for edge in candidate.explanation["edges"]
        if set(edge["customers"]) == {original.pk, newcomer.pk}
        for row in edge["rows"]
        if row["field"] == "orders"
    ]
    assert len(rows) == 1, rows
    assert rows[0]["level"].startswith("bought the same product, one few customers buy")
    assert "990001" in rows[0]["left"] and "990001" in rows[0]["right"]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_check_commits_and_a_failed_one_leaves_nothing(monkeypatch):
    """The task's path: BEGIN and COMMIT travel with the first and last statements."""
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=500, seed=21)
    duplicates_find(shop_id=shop.id, full=True)
    original = well_known(shop, 0)
    newcomer = copy_of(shop, original, 888_100_020)

    def scoring_fails(*args, **kwargs):
        raise RuntimeError("scoring failed")

    monkeypatch.setattr(incremental, "propose", scoring_fails)
    with pytest.raises(RuntimeError, match="scoring failed"):
        duplicates_check_customers(shop_id=shop.id, customer_ids=[newcomer.pk])
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    assert not BlockingKey.all_shops.filter(customer_id=newcomer.pk).exists()  # rolled back

    monkeypatch.undo()
    duplicates_check_customers(shop_id=shop.id, customer_ids=[newcomer.pk])
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    assert BlockingKey.all_shops.filter(customer_id=newcomer.pk).exists()
    assert any(original.pk in members for members in proposed_with(shop, newcomer.pk))


# Mailbox names ending in different letters (a key pairs the name with the local part's tail).
WORDS = ("amber", "birch", "cedar", "dune", "orchid", "fjord", "grove", "heath", "inlet", "juniper",
         "kestrel", "lagoon", "meadow", "nettle")  # fmt: skip


def namesake(shop, n: int) -> Customer:
    """One of several customers who share only a rare name (their mailboxes have nothing in
    common): the name pair is their one shared key."""
    return Customer.all_shops.create(
        shop=shop,
        shopify_id=888_200_000 + n,
        gid=f"gid://shopify/Customer/{888_200_000 + n}",
        first_name="Quirin",
        last_name="Zabelhuber",
        email=f"{WORDS[n]}@host{n}.example",
    )


def pairs_checked(monkeypatch, shop, customer: Customer) -> set[tuple[int, int]]:
    """Check this customer; the pairs the check scored. They must be the pairs a full scan
    lists from the key table now (same share cap) among the customers the check read."""
    scored: list[tuple[int, int]] = []

    def capture(model, records, pairs, **kwargs):
        scored.extend(map(tuple, pairs.tolist()))
        return propose(model, records, pairs, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(incremental, "propose", capture)
        duplicates_check_customers(shop_id=shop.id, customer_ids=[customer.pk])
    read = {c for pair in scored for c in pair}
    listed = {(a, b) for a, b in blocking.candidate_pairs(shop_id=shop.id).tolist()}
    assert set(scored) == {(a, b) for a, b in listed if a in read and b in read}
    return set(scored)


def partners_checked(monkeypatch, shop, customer: Customer) -> set[int]:
    """Whom the check scored this customer against."""
    pairs = pairs_checked(monkeypatch, shop, customer)
    return {other for pair in pairs if customer.pk in pair for other in pair} - {customer.pk}


def test_a_key_pairs_its_holders_up_to_the_share_cap_as_the_scan_counts_them(scanned, monkeypatch):
    """The check counts a key's holders in the table without the changed customer's old keys
    and with its new ones, as a scan of the store would: MAX_KEY_SHARE holders of a name pair
    each other, one more and the name pairs nobody; a holder changed while keeping the key
    counts once. Its partners are the ones the key table names (the portable lookup), its keys
    and candidates the portable path's, its candidate the full scan's."""
    shop = scanned
    names = [namesake(shop, n) for n in range(MAX_KEY_SHARE - 1)]
    duplicates_find(shop_id=shop.id, full=True, refit=False)
    same_name = {c.pk for c in names}

    twelfth = namesake(shop, MAX_KEY_SHARE - 1)  # the cap: the name pairs all of them
    assert partners_checked(monkeypatch, shop, twelfth) >= same_name
    assert set(blocking.candidates_of(shop_id=shop.id, customer_id=twelfth.pk)) >= same_name

    thirteenth = namesake(shop, MAX_KEY_SHARE)  # over the cap: the name is no key
    assert not partners_checked(monkeypatch, shop, thirteenth) & (same_name | {twelfth.pk})
    # A holder changes its mailbox but keeps the name: still 13 holders, no pairs by the name.
    twelfth.email = "quirin@elsewhere.example"
    twelfth.save(update_fields=["email"])
    assert not partners_checked(monkeypatch, shop, twelfth) & same_name

    thirteenth.first_name = "Zacharias"  # leaves the name: 12 holders again
    thirteenth.save(update_fields=["first_name"])
    duplicates_check_customers(shop_id=shop.id, customer_ids=[thirteenth.pk])
    twelfth.email = "quirin.z@thirdplace.example"
    twelfth.save(update_fields=["email"])
    partners = partners_checked(monkeypatch, shop, twelfth)
    assert partners >= same_name
    assert partners == set(blocking.candidates_of(shop_id=shop.id, customer_id=twelfth.pk))

    twelfth.email = "quirin.zabel@fourth.example"
    twelfth.save(update_fields=["email"])
    _same_as_portable(shop, [twelfth.pk])
    checked = sorted(m for m in proposed_with(shop, twelfth.pk))
    duplicates_find(shop_id=shop.id, full=True, refit=False)
    assert sorted(m for m in proposed_with(shop, twelfth.pk)) == checked


def test_a_key_the_changed_customer_leaves_is_counted_without_it(scanned, monkeypatch):
    """A name held by MAX_KEY_SHARE + 2 customers; one of them takes another name, and a phone
    and a mailbox that link it to two of the others. Those two share only the old name, still
    held by one more than the cap: the check does not pair them through it (nor does a scan)."""
    shop = scanned
    names = [namesake(shop, n) for n in range(MAX_KEY_SHARE + 2)]
    first, second, leaving = names[0], names[1], names[-1]
    Customer.all_shops.filter(pk=first.pk).update(phone="+49 30 1234567")
    duplicates_find(shop_id=shop.id, full=True, refit=False)

    leaving.first_name, leaving.last_name = "Yannick", "Oberholzer"
    leaving.phone, leaving.email = "+49 30 1234567", f"{WORDS[1]}@other.example"
    leaving.save(update_fields=["first_name", "last_name", "phone", "email"])
    pairs = pairs_checked(monkeypatch, shop, leaving)
    assert {(min(leaving.pk, c.pk), max(leaving.pk, c.pk)) for c in (first, second)} <= pairs
    assert (first.pk, second.pk) not in pairs


def profile(shop, shopify_id: int, *, phone: str = "", home: tuple[str, str, str] | None = None):
    """A profile of Ottilie Wenzelburger (a name no generated customer holds), with this phone
    and home (street, postcode, city) as its default address."""
    customer = Customer.all_shops.create(
        shop=shop,
        shopify_id=shopify_id,
        gid=f"gid://shopify/Customer/{shopify_id}",
        first_name="Ottilie",
        last_name="Wenzelburger",
        phone=phone,
        phone_e164=phone.replace(" ", ""),  # what the sync's mapping stores beside it
    )
    if home:
        street, postcode, city = home
        customer.addresses.create(
            shop=shop, shopify_id=shopify_id, is_default=True, address1=street, zip=postcode,
            city=city, country_code="DE",
        )  # fmt: skip
        Customer.all_shops.filter(pk=customer.pk).update(
            default_address_zip=postcode, default_address_city=city,
            default_address_country_code="DE",
        )  # fmt: skip
    return customer


def candidate_holding(shop, customer_id: int) -> list[tuple]:
    """The open candidates holding this customer, with their explanations."""
    return [row for row in open_candidates(shop) if customer_id in row[0]]


def joint_partners(candidate: tuple) -> set[int]:
    return {edge["joint"]["with"] for edge in candidate[5]["edges"] if "joint" in edge}


OLD_HOME = ("Lindenstraße 14", "20957", "Hamburg")
NEW_HOME = ("Gartenweg 12", "80331", "München")


def test_incremental_equals_full_scan_when_a_joint_comparison_decides(scanned):
    """Ottilie's old profile (old home, her phone) and her new one (the same phone, a new home)
    are one person; a guest checkout at the new home without phone or e-mail matches the old
    profile only through the new one (scoring.joint_comparisons). Whichever customer changes, the
    incremental check proposes what a full scan with the same weights proposes: the same members,
    survivor, probability, tier and explanation, the joint comparison's partner named in it."""
    shop = scanned
    phone = "+49 171 5550123"
    old = profile(shop, 888_300_001, phone=phone, home=OLD_HOME)
    new = profile(shop, 888_300_002, phone=phone, home=NEW_HOME)
    duplicates_find(shop_id=shop.id, full=True, refit=False)

    guest = profile(shop, 888_300_003, home=NEW_HOME)  # arrives by webhook
    duplicates_check_customers(shop_id=shop.id, customer_ids=[guest.pk])
    (checked,) = candidate_holding(shop, guest.pk)
    assert sorted(checked[0]) == sorted([old.pk, new.pk, guest.pk])
    assert new.pk in joint_partners(checked)  # the old profile and the guest, through the new one
    duplicates_find(shop_id=shop.id, full=True, refit=False)
    assert candidate_holding(shop, guest.pk) == [checked]

    # The new profile changes (an e-mail the others lack): the old profile-guest pair is raised
    # through it again, now found from the changed customer's neighbourhood.
    Customer.all_shops.filter(pk=new.pk).update(email="ottilie.wenzelburger@example.org")
    duplicates_check_customers(shop_id=shop.id, customer_ids=[new.pk])
    (checked,) = candidate_holding(shop, new.pk)
    assert sorted(checked[0]) == sorted([old.pk, new.pk, guest.pk])
    assert new.pk in joint_partners(checked)
    duplicates_find(shop_id=shop.id, full=True, refit=False)
    assert candidate_holding(shop, new.pk) == [checked]
