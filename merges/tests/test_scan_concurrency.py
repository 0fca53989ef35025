"""A full scan and incremental checks of the same shop at the same time, on two real connections:
a check committing while the scan computes is not undone by the scan's swap, and it does not wait
for the scan to finish reading and computing."""

import os
import threading

import pytest
from django.db import connection

from merges.detection import blocking
from merges.detection.keys import blocking_keys
from merges.incremental import duplicates_check_customers
from merges.models import BlockingKey, ScanWatch
from merges.services import duplicates_find
from merges.tests.stores import load_generated
from merges.tests.test_mirror_hook import copy_of, proposed_with, well_known
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="two connections"),
]
WAIT = 120  # seconds: far more than either side needs; a deadlock fails instead of hanging


def keys_of(shop, customer_id: int) -> set[tuple[str, str]]:
    return set(
        BlockingKey.all_shops.filter(shop=shop, customer_id=customer_id).values_list(
            "key_type", "key_value"
        )
    )


def expected_keys(shop, customer_id: int) -> set[tuple[str, str]]:
    (record,) = blocking.match_fields_load(shop_id=shop.id, customer_ids=[customer_id])
    return {(t, v[: blocking.MAX_KEY_LENGTH]) for t, v in blocking_keys(record)}


class PausedScan(threading.Thread):
    """A full scan in its own connection that stops once it has read the shop, until released."""

    def __init__(self, shop_id: int) -> None:
        super().__init__(daemon=True)
        self.shop_id = shop_id
        self.read, self.go = threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def progress(self, message: str) -> None:
        if "active customers loaded" in message:
            self.read.set()
            assert self.go.wait(WAIT), "the test never released the scan"

    def run(self) -> None:
        try:
            duplicates_find(shop_id=self.shop_id, full=True, refit=False, progress=self.progress)
        except BaseException as error:  # reported by the test thread
            self.error = error
        finally:
            connection.close()


def check_in_thread(shop_id: int, customer_ids: list[int]) -> threading.Thread:
    def run() -> None:
        try:
            duplicates_check_customers(shop_id=shop_id, customer_ids=customer_ids)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_check_committed_during_a_full_scan_survives_the_scan():
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=400, seed=23)
    duplicates_find(shop_id=shop.id, full=True)
    original = well_known(shop, 0)

    scan = PausedScan(shop.id)
    scan.start()
    assert scan.read.wait(WAIT)
    newcomer = copy_of(shop, original, 888_200_001)  # arrives after the scan's read
    # The scan has read the shop and holds no lock: the check runs to its commit meanwhile.
    check = check_in_thread(shop.id, [newcomer.pk])
    check.join(WAIT)
    assert not check.is_alive(), "the check waited for the scan"
    assert keys_of(shop, newcomer.pk) == expected_keys(shop, newcomer.pk) != set()
    assert any(original.pk in members for members in proposed_with(shop, newcomer.pk))

    scan.go.set()
    scan.join(WAIT)
    assert not scan.is_alive() and scan.error is None, scan.error
    # The scan's view of the shop predates the newcomer; its swap and its candidates must not
    # have undone the check: the newcomer's keys and its candidate are there.
    assert keys_of(shop, newcomer.pk) == expected_keys(shop, newcomer.pk)
    assert any(original.pk in members for members in proposed_with(shop, newcomer.pk))
    assert not ScanWatch.all_shops.filter(shop=shop).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE %s",
            [f"{blocking.KEY_TABLE}_s{shop.id}_w%"],
        )
        assert cursor.fetchone()[0] == 0  # the prepared table was swapped in, none left over


def test_a_failed_scan_leaves_no_watch_and_no_prepared_keys(monkeypatch):
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=200, seed=24)
    duplicates_find(shop_id=shop.id, full=True)
    before = BlockingKey.all_shops.filter(shop=shop).count()

    def fails(*args, **kwargs):
        raise RuntimeError("scoring failed")

    monkeypatch.setattr("merges.services._propose", fails)
    with pytest.raises(RuntimeError, match="scoring failed"):
        duplicates_find(shop_id=shop.id, full=True, refit=False)
    assert not ScanWatch.all_shops.filter(shop=shop).exists()
    assert BlockingKey.all_shops.filter(shop=shop).count() == before  # the old keys stay
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE %s",
            [f"{blocking.KEY_TABLE}_s{shop.id}_w%"],
        )
        assert cursor.fetchone()[0] == 0


def _scan_outcome(shop) -> tuple[set, list]:
    from merges.models import DuplicateCandidate

    keys = set(
        BlockingKey.all_shops.filter(shop=shop).values_list("customer_id", "key_type", "key_value")
    )
    candidates = sorted(
        (c.members, c.survivor_id, c.probability, c.explanation)
        for c in DuplicateCandidate.all_shops.filter(shop=shop, status="open")
    )
    return keys, candidates


def _prepared_tables(shop) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE %s",
            [f"{blocking.KEY_TABLE}_s{shop.id}_w%"],
        )
        return cursor.fetchone()[0]


def test_a_scan_read_by_two_processes_finds_what_one_process_finds(monkeypatch, tmp_path):
    """Outside a transaction the customers above a split id are read and keyed by a forked
    process: the keys and candidates are those of reading everything in one process."""
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=400, seed=26)
    copying = blocking.blocking_keys_copy
    pids = tmp_path / "pids"

    def noted(**kwargs):  # which processes copied keys (a forked one's memory is its own)
        with pids.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return copying(**kwargs)

    monkeypatch.setattr(blocking, "blocking_keys_copy", noted)
    found = duplicates_find(shop_id=shop.id, full=True)
    forked = _scan_outcome(shop)
    assert len(set(pids.read_text().split())) == 2 and found.candidates > 5

    monkeypatch.setattr("merges.background._own_connection_possible", lambda: False)
    pids.unlink()
    duplicates_find(shop_id=shop.id, full=True)
    assert pids.read_text().split() == [str(os.getpid())] * 2  # both halves in this process
    alone = _scan_outcome(shop)
    assert forked == alone and len(alone[0]) > 1000


def test_a_forked_reader_starts_inside_a_daemonic_worker():
    """django-q2 runs tasks in daemonic processes, which multiprocessing does not let start
    children: the scan's forked reader must start there too (a plain fork)."""
    import multiprocessing

    from merges.background import Forked

    context = multiprocessing.get_context("fork")
    answers = context.SimpleQueue()

    def task() -> None:
        try:
            answers.put(("forked", Forked(os.getpid).result() != os.getpid()))
        except BaseException as error:
            answers.put(("failed", repr(error)))

    worker = context.Process(target=task, daemon=True)
    worker.start()
    worker.join(WAIT)
    assert answers.get() == ("forked", True)


def test_a_forked_reader_that_fails_fails_the_scan_and_leaves_nothing(monkeypatch):
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=200, seed=27)
    duplicates_find(shop_id=shop.id, full=True)
    before = _scan_outcome(shop)
    reading = blocking.match_fields_load
    parent = os.getpid()

    def fails_in_the_child(**kwargs):
        if os.getpid() != parent:
            raise ValueError("the upper half could not be read")
        return reading(**kwargs)

    monkeypatch.setattr(blocking, "match_fields_load", fails_in_the_child)
    with pytest.raises(ValueError, match="upper half"):
        duplicates_find(shop_id=shop.id, full=True)
    assert not ScanWatch.all_shops.filter(shop=shop).exists()
    assert _prepared_tables(shop) == 0 and _scan_outcome(shop) == before


@pytest.mark.django_db
def test_candidates_are_copied_with_their_text_intact():
    """The scan writes its candidates as COPY text: tabs, newlines and backslashes in
    explanations and reasons come back as they were."""
    from django.utils import timezone

    from customers.models import Customer
    from merges.models import DuplicateCandidate
    from merges.services import _candidates_insert

    shop = shop_factory(agency=agency_factory(), country_code="DE")
    a, b = (
        Customer.all_shops.create(shop=shop, shopify_id=n, gid=f"gid://shopify/Customer/{n}")
        for n in (1, 2)
    )
    odd = 'tab\there, line\nbreak, back\\slash \\N "quoted" ümlaut'
    candidate = DuplicateCandidate(
        shop=shop,
        members=[a.pk, b.pk],
        survivor_id=a.pk,
        survivor_reason=odd,
        probability=0.97,
        tier="medium",
        explanation={"edges": [{"customers": [a.pk, b.pk], "note": odd}]},
        blockers=[],
        needs_split=True,
        detector_version="fs-3",
        detected_at=timezone.now(),
    )
    _candidates_insert([candidate])
    stored = DuplicateCandidate.all_shops.get(shop=shop)
    assert stored.survivor_reason == odd and stored.explanation["edges"][0]["note"] == odd
    assert stored.needs_split is True and stored.probability == 0.97
    assert stored.detected_at == candidate.detected_at and stored.status == "open"


@pytest.mark.django_db
def test_pairs_compared_in_chunks_get_the_levels_of_one_comparison():
    import numpy as np

    from merges.detection.compare import RecordTable, comparison_levels
    from merges.services import compared_in_chunks

    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=300, seed=25)
    records = blocking.match_fields_load(shop_id=shop.id)
    pairs = blocking.blocking_keys_rebuild_with_pairs(shop_id=shop.id, records=records)[1]
    assert len(pairs) > 20
    table = RecordTable.build(records)
    left, right = table.positions(pairs[:, 0]), table.positions(pairs[:, 1])
    whole = comparison_levels(table, left, right)
    chunked = compared_in_chunks(table, left, right, chunk=7)
    assert np.array_equal(whole[0], chunked[0]) and np.array_equal(whole[1], chunked[1])
    assert whole[0].dtype == chunked[0].dtype and whole[1].dtype == chunked[1].dtype


@pytest.mark.django_db
def test_a_scan_replaces_only_open_candidates_and_unlinks_pairs_pointing_at_them():
    from merges.models import DismissedPair, DuplicateCandidate
    from merges.services import duplicate_dismiss

    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=300, seed=26)
    duplicates_find(shop_id=shop.id, full=True)
    first, second = DuplicateCandidate.all_shops.filter(shop=shop, status="open")[:2]
    duplicate_dismiss(candidate=first, reason="siblings")
    # A remembered pair pointing at a candidate that is still open (the foreign key's SET NULL).
    pair = DismissedPair.all_shops.filter(shop=shop).first()
    DismissedPair.all_shops.filter(pk=pair.pk).update(candidate=second)
    open_before = set(
        DuplicateCandidate.all_shops.filter(shop=shop, status="open").values_list("pk", flat=True)
    )

    duplicates_find(shop_id=shop.id, full=True, refit=False)
    assert DismissedPair.all_shops.get(pk=pair.pk).candidate_id is None
    assert DuplicateCandidate.all_shops.get(pk=first.pk).status == "dismissed"  # kept
    open_after = set(
        DuplicateCandidate.all_shops.filter(shop=shop, status="open").values_list("pk", flat=True)
    )
    assert open_after and not open_after & open_before  # every open one replaced
