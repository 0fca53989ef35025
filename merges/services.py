"""Duplicate candidates: the full scan that proposes them and the reviewer's dismissal."""

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.services import audit_event_record
from customers.hooks import DUPLICATES_CHANGED, mirror_changed_notify
from customers.models import Customer, CustomerState
from merges import fitting, selectors
from merges.background import Background
from merges.detection import blocking, groups, scoring
from merges.detection.compare import RecordTable, comparison_levels
from merges.detection.normalize import MatchFields
from merges.fitting import matcher_model
from merges.models import DismissedPair, DuplicateCandidate, ScanWatch
from merges.scan_read import customers_read_and_keyed
from tenants.actors import SYSTEM_ACTOR, Actor
from tenants.errors import Conflict, DomainError
from tenants.models import Shop

logger = logging.getLogger(__name__)

DETECTOR_VERSION = "fs-6"
Progress = Callable[[str], None]


def tier_of(probability: float) -> str:
    if probability >= groups.HIGH_THRESHOLD:
        return DuplicateCandidate.Tier.HIGH
    if probability >= groups.MEDIUM_THRESHOLD:
        return DuplicateCandidate.Tier.MEDIUM
    return DuplicateCandidate.Tier.LOW


def fingerprint(record: MatchFields) -> str:
    """A digest of everything matching looks at; changes when any matching field changes."""
    values = [
        repr(getattr(record, name)) for name in MatchFields.__slots__ if name != "customer_id"
    ]
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:32]


def _dismissed(shop_id: int, prints: Mapping[int, str]) -> set[tuple[int, int]]:
    """Dismissed pairs whose two sides still have the fingerprints they had when dismissed."""
    rows = DismissedPair.all_shops.filter(shop_id=shop_id)
    if len(prints) <= 1000:  # the incremental check: only the pairs of these customers
        rows = rows.filter(customer_low_id__in=list(prints), customer_high_id__in=list(prints))
    rows = rows.values_list(
        "customer_low_id", "customer_high_id", "fingerprint_low", "fingerprint_high"
    )
    return {(a, b) for a, b, fa, fb in rows if prints.get(a) == fa and prints.get(b) == fb}


_MEMBER_COLUMNS = (
    "id", "state", "number_of_orders", "verified_email", "created_at_shopify", "is_mergeable",
    "merge_blockers",
)  # fmt: skip


def _member_rows(shop_id: int, ids: Sequence[int]) -> list[tuple]:
    """`_MEMBER_COLUMNS` of these customers. On PostgreSQL the ids are one array parameter: the
    ORM's IN list of a full scan's ~130,000 group members (1,000,000 customers) took 3.4 CPU-s
    to build."""
    if connection.vendor != "postgresql":
        rows = Customer.all_shops.filter(shop_id=shop_id, pk__in=list(ids))
        return list(rows.values_list(*_MEMBER_COLUMNS))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_MEMBER_COLUMNS)} FROM {Customer._meta.db_table}"  # noqa: S608
            " WHERE shop_id = %s AND id = ANY(%s)",
            [shop_id, [int(i) for i in ids]],
        )
        return [(*row[:-1], json.loads(row[-1]) if row[-1] else []) for row in cursor.fetchall()]


def _members(shop_id: int, ids: Sequence[int]) -> dict[int, groups.Member]:
    return {
        pk: groups.Member(
            pk,
            state == CustomerState.ENABLED,
            orders,
            verified,
            created,
            mergeable,
            tuple(blockers or ()),
        )
        for pk, state, orders, verified, created, mergeable, blockers in _member_rows(shop_id, ids)
    }


def _products_text(products: frozenset[int] | None, shown: int = 12) -> str:
    """The products a customer ordered, as the reviewer sees them (product ids)."""
    if not products:
        return ""
    ids = sorted(products)
    more = f" (+{len(ids) - shown} more)" if len(ids) > shown else ""
    return "products " + ", ".join(str(p) for p in ids[:shown]) + more


@dataclass
class ScanResult:
    customers: int
    pairs: int
    candidates: int
    seconds: float = 0.0

    @property
    def customers_per_second(self) -> float:
        return self.customers / self.seconds if self.seconds else 0.0


def _timed(progress: Progress | None) -> Callable[[str], float]:
    """A progress reporter that stamps each message with the seconds since the scan started."""
    started = time.monotonic()

    def say(message: str) -> float:
        elapsed = time.monotonic() - started
        if progress is not None:
            progress(f"[{elapsed:6.1f} s] {message}")
        return elapsed

    return say


def _propose(
    shop_id: int,
    model: scoring.MatchModel,
    records: Sequence[MatchFields],
    pairs: np.ndarray,
    products: dict[int, frozenset[int]] | None = None,
    *,
    table: RecordTable | None = None,
    compared: tuple[np.ndarray, np.ndarray] | None = None,
    fingerprints: Mapping[int, str] | None = None,
) -> list[tuple[groups.Group, dict]]:
    """Guarded groups from these blocked pairs, each with its per-edge explanations.
    `products`: what the customers ordered (None: read for the customers in the pairs).
    `table` (of these records and products, with the model's product popularity), `compared`
    (the pairs' levels) and `fingerprints` (`dismissed_fingerprints`): when the caller has them,
    `records` are not read."""
    return propose(
        model,
        records,
        pairs,
        dismissed=lambda prints: _dismissed(shop_id, prints),
        members_of=lambda ids: _members(shop_id, ids),
        raw_values_of=lambda ids: blocking.shown_values(shop_id=shop_id, customer_ids=ids),
        products_of=(
            (lambda ids: products)
            if products is not None
            else (lambda ids: selectors.purchased_products(shop_id=shop_id, customer_ids=ids))
        ),
        table=table,
        compared=compared,
        fingerprints=fingerprints,
    )


def dismissed_fingerprints(shop_id: int, records: Iterable[MatchFields]) -> dict[int, str]:
    """The fingerprints of those of these customers who are in one of the shop's dismissed
    pairs: all `_dismissed` reads, so a full scan need not keep its records for it."""
    rows = DismissedPair.all_shops.filter(shop_id=shop_id)
    involved = {c for pair in rows.values_list("customer_low_id", "customer_high_id") for c in pair}
    return {r.customer_id: fingerprint(r) for r in records if r.customer_id in involved}


class _Fingerprints(Mapping):
    """customer id -> fingerprint, computed on first read: a full scan of a large store reads
    the fingerprints of the few customers in dismissed pairs, not of every customer."""

    def __init__(self, records: Sequence[MatchFields]) -> None:
        self._records = {r.customer_id: r for r in records}
        self._prints: dict[int, str] = {}

    def __getitem__(self, customer_id: int) -> str:
        if customer_id not in self._prints:
            self._prints[customer_id] = fingerprint(self._records[customer_id])
        return self._prints[customer_id]

    def __iter__(self):
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


def propose(
    model: scoring.MatchModel,
    records: Sequence[MatchFields],
    pairs: np.ndarray,
    *,
    dismissed: Callable[[Mapping[int, str]], set[tuple[int, int]]],
    members_of: Callable[[list[int]], dict[int, groups.Member]],
    raw_values_of: Callable[[list[int]], dict[int, dict[str, str]]],
    products_of: Callable[[list[int]], dict[int, frozenset[int]]] | None = None,
    table: RecordTable | None = None,
    compared: tuple[np.ndarray, np.ndarray] | None = None,
    fingerprints: Mapping[int, str] | None = None,
) -> list[tuple[groups.Group, dict]]:
    """`_propose` with the reads passed in: dismissed pairs by fingerprint, survivor facts and raw
    values by customer id (the incremental check has them from its one neighbourhood query), the
    products each customer ordered (None: no order history known, the orders comparison is
    "missing" and weighs 0)."""
    if not len(pairs):
        return []
    products = None
    if table is None:
        products = products_of([int(i) for i in np.unique(pairs)]) if products_of else {}
        table = RecordTable.build(records, products, model.product_share)
    left, right = table.positions(pairs[:, 0]), table.positions(pairs[:, 1])
    scored = scoring.score_pairs(model, table, left, right, compared=compared)
    prints = fingerprints if fingerprints is not None else _Fingerprints(records)
    cannot_link = dismissed(prints) | groups.level_vetoes(pairs, scored.levels)
    keep = np.flatnonzero(scored.probability >= groups.REVIEW_THRESHOLD)
    kept_pairs = pairs[keep].tolist()
    built = groups.build_groups(
        (
            (a, b, p)
            for (a, b), p in zip(kept_pairs, scored.probability[keep].tolist(), strict=True)
        ),
        members_of(np.unique(pairs[keep]).tolist()),
        cannot_link=cannot_link,
        linkage=groups.pair_linkage(pairs, scored.probability, groups.REVIEW_THRESHOLD),
    )
    raw = raw_values_of(sorted({m for g in built for m in g.members}))
    if products is None:  # the caller's table: its order history is the same products_of's
        products = products_of(list(raw)) if products_of else {}
    for customer, values in raw.items():
        values["orders"] = _products_text(products.get(customer))
    index = {(a, b): int(i) for (a, b), i in zip(kept_pairs, keep.tolist(), strict=True)}
    return [
        (
            group,
            {
                edge: scoring.waterfall(
                    model,
                    scored,
                    index[edge],
                    left=raw.get(edge[0], {}),
                    right=raw.get(edge[1], {}),
                )
                for edge in group.edges
            },
        )
        for group in built
    ]


def _candidate(shop_id: int, group: groups.Group, explanations: dict, now) -> DuplicateCandidate:
    return DuplicateCandidate(
        shop_id=shop_id,
        members=group.members,
        survivor_id=group.survivor,
        survivor_reason=group.survivor_reason,
        probability=group.probability,
        tier=tier_of(group.probability),
        explanation={
            "edges": [
                {"customers": list(edge), "probability": p, **explanations[edge]}
                for edge, p in sorted(group.edges.items())
            ]
        },
        blockers=group.blockers,
        needs_split=group.needs_split,
        detector_version=DETECTOR_VERSION,
        detected_at=now,
    )


_CANDIDATE_COLUMNS = (
    "shop_id", "members", "survivor_id", "survivor_reason", "probability", "tier",
    "explanation", "blockers", "needs_split", "status", "status_reason", "detector_version",
    "detected_at",
)  # fmt: skip
_JSON_COLUMNS = frozenset({"members", "explanation", "blockers"})


def _candidate_copy_text(candidates: Sequence[DuplicateCandidate]) -> str:
    """Candidates as COPY text (one line each)."""
    lines = []
    for candidate in candidates:
        values = []
        for column in _CANDIDATE_COLUMNS:
            value = getattr(candidate, column)
            if column in _JSON_COLUMNS:
                value = json.dumps(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            values.append("\\N" if value is None else blocking.copy_text(str(value)))
        lines.append("\t".join(values) + "\n")
    return "".join(lines)


def _candidates_insert(candidates: list[DuplicateCandidate]) -> None:
    """Store new candidates: by COPY on PostgreSQL (a full scan of a large store writes tens of
    thousands, each with its explanation; Django's bulk insert quotes every value in Python),
    serialised a chunk at a time (all of 1,000,000 customers' at once took ~600 MiB)."""
    if connection.vendor != "postgresql":
        DuplicateCandidate.all_shops.bulk_create(candidates)
        return
    table = DuplicateCandidate._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(_CANDIDATE_COLUMNS)}) FROM STDIN") as copy,
    ):
        for start in range(0, len(candidates), CANDIDATE_CHUNK):
            copy.write(_candidate_copy_text(candidates[start : start + CANDIDATE_CHUNK]))


CANDIDATE_CHUNK = 2_000  # candidates serialised per write (explanations are ~10 KiB each)


def _open_candidates_delete(shop_id: int) -> int:
    """Delete the shop's open candidates in SQL. (Django's delete() first loads every candidate
    a dismissed pair might point at, explanations included: ~600 MiB and most of the locked
    time for the 60,000 candidates of a 1,000,000-customer store.)"""
    table, dismissed = DuplicateCandidate._meta.db_table, DismissedPair._meta.db_table
    open_ones = f"SELECT id FROM {table} WHERE shop_id = %s AND status = %s"  # noqa: S608
    params = [shop_id, DuplicateCandidate.Status.OPEN]
    with connection.cursor() as cursor:
        cursor.execute(  # the foreign key's SET NULL
            f"UPDATE {dismissed} SET candidate_id = NULL WHERE candidate_id IN ({open_ones})",  # noqa: S608
            params,
        )
        cursor.execute(f"DELETE FROM {table} WHERE shop_id = %s AND status = %s", params)  # noqa: S608
        return cursor.rowcount


COMPARE_CHUNK = 250_000  # pairs compared at a time


def compared_in_chunks(
    table: RecordTable, left: np.ndarray, right: np.ndarray, *, chunk: int = COMPARE_CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """`comparison_levels` of these pairs, a slice at a time: it gathers every column of the
    table for both sides of the pairs it is given (1.9 M pairs at 1,000,000 customers: ~800 MiB
    at once); pairs are compared independently, so the levels are the same."""
    if len(left) <= chunk:
        return comparison_levels(table, left, right)
    parts = [
        comparison_levels(table, left[i : i + chunk], right[i : i + chunk])
        for i in range(0, len(left), chunk)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# The advisory lock (+ shop id) serialising a shop's incremental checks, and a scan's write.
CHECK_LOCK = 0xD0_0000_0000
# A watch older than this belongs to a scan that died (a scan of 1,000,000 customers takes
# minutes): the shop's next scan drops it and its unattached key table.
WATCH_ABANDONED_AFTER = timedelta(hours=6)


def shop_checks_lock(shop_id: int) -> None:
    """Take the shop's check lock until the current transaction ends (PostgreSQL; elsewhere a
    single writer needs none)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHECK_LOCK + shop_id])


def scan_watch_note(*, shop_id: int, customer_ids: Iterable[int]) -> None:
    """Tell the shop's running scans (if any) that these customers' keys and candidates were
    just rewritten, in the caller's transaction, which holds the check lock. (The PostgreSQL
    check does the same inside its neighbourhood statement.)"""
    ids = [int(i) for i in customer_ids]
    for watch in ScanWatch.all_shops.select_for_update().filter(shop_id=shop_id):
        watch.customers = [*watch.customers, *ids]
        watch.save(update_fields=["customers"])


def _watch_begin(shop_id: int) -> ScanWatch:
    """Register a scan before it reads the shop, so incremental checks that commit after its
    read leave their customers on the watch."""
    for stale in ScanWatch.all_shops.filter(
        shop_id=shop_id, started_at__lt=timezone.now() - WATCH_ABANDONED_AFTER
    ):
        blocking.blocking_keys_discard(shop_id=shop_id, tag=_tag(stale))
        stale.delete()
    watch = ScanWatch.all_shops.create(shop_id=shop_id, started_at=timezone.now())
    # A check that took the lock before the watch existed may not see it, yet commit after our
    # read: wait for such checks to finish (taking and releasing the lock) before reading.
    with transaction.atomic():
        shop_checks_lock(shop_id)
    return watch


def _tag(watch: ScanWatch) -> str:
    """The name of the scan's prepared key table (one per scan: scans may overlap)."""
    return f"w{int(watch.pk)}"


def _scan_abandon(watch: ScanWatch, prepared: blocking.PreparedKeys | None) -> None:
    """A failed scan leaves no watch (checks stop noting) and no prepared key table."""
    try:
        if prepared is not None:
            with contextlib.suppress(Exception):  # its own failure is not the scan's
                blocking.blocking_keys_ready(prepared)
        with transaction.atomic():
            if prepared is not None:
                blocking.blocking_keys_discard(shop_id=watch.shop_id, tag=_tag(watch))
            ScanWatch.all_shops.filter(pk=watch.pk).delete()
    except DatabaseError:  # the caller's transaction is broken: its rollback removes both
        logger.warning("scan of shop %s: watch %s left to the next scan", watch.shop_id, watch.pk)


def _watch_end(watch: ScanWatch) -> list[int]:
    """In the scan's writing transaction, under the check lock: the customers checks rewrote
    since the scan read the shop (the watch is removed)."""
    customers = ScanWatch.all_shops.filter(pk=watch.pk).values_list("customers", flat=True)
    noted = sorted({int(i) for ids in customers for i in ids})
    ScanWatch.all_shops.filter(pk=watch.pk).delete()
    return noted


def _recheck(shop_id: int, customer_ids: list[int]) -> None:
    """The incremental check again for customers it rewrote while the scan ran, now on the
    scan's keys and candidates (their changes are newer than the scan's read)."""
    from merges.incremental import INCREMENTAL_MAX_CUSTOMERS, _check

    for start in range(0, len(customer_ids), INCREMENTAL_MAX_CUSTOMERS):
        _check(shop_id, customer_ids[start : start + INCREMENTAL_MAX_CUSTOMERS])


def duplicates_find(
    *, shop_id: int, full: bool = True, refit: bool = True, progress: Progress | None = None
) -> ScanResult:
    """Scan a shop: rebuild blocking keys (`full`), fit the model (`refit`, else the stored one),
    score the blocked pairs, form guarded groups and replace the shop's *open* candidates
    (dismissed and requested ones are kept as they are).

    Incremental checks keep running while the scan reads and computes; the scan takes their lock
    only to swap in its keys and replace the candidates, then checks again the customers checks
    rewrote since its read (the scan's view of them is older than theirs)."""
    say = _timed(progress)
    shop = Shop.objects.get(pk=shop_id)
    watch = _watch_begin(shop_id)
    prepared = None
    try:
        # PostgreSQL reads the order history on another connection while the keys are built.
        if full:  # two processes read and key the customers; pairs listed from their keys
            records, prepared, history = customers_read_and_keyed(shop_id=shop_id, tag=_tag(watch))
            say(f"{len(records):,} active customers loaded")
            pairs = prepared.pairs
            say(f"{prepared.count:,} blocking keys written")
        else:
            records = blocking.match_fields_load(shop_id=shop_id)
            say(f"{len(records):,} active customers loaded")
            history = Background(selectors.purchased_products, shop_id=shop_id)
            pairs = blocking.candidate_pairs(shop_id=shop_id)
        say(
            f"{len(pairs):,} candidate pairs ({len(pairs) / max(1, len(records)):.1f} per customer)"
        )
        products = history.result()
        say(f"order history of {len(products):,} customers read")
        model = None if refit else matcher_model(shop_id=shop_id)
        # One table for the fit and the scoring: a stored model scores with the product
        # popularity it was fitted with; a new fit counts it on the whole shop (levels are the
        # same either way: the model keeps every product common enough to change a level).
        table = RecordTable.build(records, products, model.product_share if model else None)
        # The pairs are compared once, for the fit and for the scoring.
        compared = None
        if len(pairs):
            left, right = table.positions(pairs[:, 0]), table.positions(pairs[:, 1])
            compared = compared_in_chunks(table, left, right)
            say("pairs compared")
        if model is None and len(pairs):
            model, report = fitting.matcher_fit(
                shop_id=shop_id,
                records=records,
                pairs=pairs,
                products=products,
                table=table,
                levels=compared[0],
            )
            fitting.matcher_save(
                shop_id=shop_id, model=model, report=report, version=DETECTOR_VERSION
            )
            say(
                "model fitted"
                + (" and refitted with reviewer labels" if report and report.stored else "")
            )
        # From here the table stands for the records: of those only the fingerprints of the
        # customers in dismissed pairs are kept (records take most of the memory of a scan).
        customers = len(records)
        prints = dismissed_fingerprints(shop_id, records)
        del records
        say("scoring and grouping")
        before_scoring = time.monotonic()
        proposals = []
        if model is not None:
            proposals = _propose(
                shop_id, model, (), pairs, products,
                table=table, compared=compared, fingerprints=prints,
            )  # fmt: skip
        scored = max(time.monotonic() - before_scoring, 1e-9)
        say(f"{len(proposals):,} groups formed ({len(pairs) / scored:,.0f} pairs/s)")
        now = timezone.now()
        built = [_candidate(shop_id, g, e, now) for g, e in proposals]
        if prepared is not None:
            blocking.blocking_keys_ready(prepared)  # indexes built before the lock is taken
        with transaction.atomic():
            shop_checks_lock(shop_id)  # checks wait from here to the commit
            locked = time.monotonic()
            rewritten = _watch_end(watch)
            if prepared is not None:
                blocking.blocking_keys_swap(prepared)
            replaced = _open_candidates_delete(shop_id)
            _candidates_insert(built)
            audit_event_record(
                agency_id=shop.agency_id,
                event="duplicates.scanned",
                shop_id=shop_id,
                target_type="shop",
                target_id=shop_id,
                data={
                    "customers": customers,
                    "pairs": len(pairs),
                    "candidates": len(proposals),
                    "full": full,
                },
            )
        held = time.monotonic() - locked
    except BaseException:
        _scan_abandon(watch, prepared)
        raise
    say(
        f"{len(proposals):,} open candidates stored (keys swapped and candidates replaced"
        f" under the check lock: {held:.1f} s)"
    )
    if rewritten:
        _recheck(shop_id, rewritten)
        say(f"{len(rewritten):,} customers checked during the scan checked again")
    if replaced or proposals:  # replaced wholesale: any member's duplicate_status may have moved
        duplicate_status_moved(shop_id=shop_id, customer_ids=None)
    seconds = say("scan done")
    return ScanResult(
        customers=customers, pairs=len(pairs), candidates=len(proposals), seconds=seconds
    )


def duplicate_status_moved(*, shop_id: int, customer_ids: Iterable[int] | None) -> None:
    """Tell the mirror's hooks (after commit) that these customers' duplicate review status may
    have moved, so segments reading `duplicate_status` refresh them; None: any of the shop's."""
    ids = None if customer_ids is None else sorted(set(customer_ids))
    if ids == []:
        return
    mirror_changed_notify(
        shop_id=shop_id, customer_ids=ids, reason="duplicates", changed={DUPLICATES_CHANGED}
    )


DISMISS_REASON_MAX = 500


@transaction.atomic
def duplicate_dismiss(
    *, candidate: DuplicateCandidate, reason: str, actor: Actor = SYSTEM_ACTOR
) -> DuplicateCandidate:
    """Mark a candidate as not duplicates and remember each of its pairs with the current
    fingerprints, so no scan proposes them again until a side's matching fields change.

    Refuses (nothing written) a blank or over-long reason and a candidate that is not open."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("A dismissal needs a reason.", code="reason_required")
    if len(reason) > DISMISS_REASON_MAX:
        raise DomainError(
            f"The reason is longer than {DISMISS_REASON_MAX} characters.", code="reason_too_long"
        )
    # Locked: two reviewers dismissing at once must not both record the decision.
    candidate = DuplicateCandidate.all_shops.select_for_update().get(pk=candidate.pk)
    if candidate.status != DuplicateCandidate.Status.OPEN:
        raise Conflict(
            f"Only open candidates can be dismissed; this one is {candidate.status}.",
            code="not_open",
        )
    records = blocking.match_fields_load(shop_id=candidate.shop_id, customer_ids=candidate.members)
    prints = {r.customer_id: fingerprint(r) for r in records}
    members = sorted(prints)
    for i, low in enumerate(members):
        for high in members[i + 1 :]:
            DismissedPair.all_shops.update_or_create(
                shop_id=candidate.shop_id,
                customer_low_id=low,
                customer_high_id=high,
                defaults={
                    "fingerprint_low": prints[low],
                    "fingerprint_high": prints[high],
                    "reason": reason,
                    "candidate": candidate,
                },
            )
    candidate.status = DuplicateCandidate.Status.DISMISSED
    candidate.status_reason = reason
    candidate.decided_at = timezone.now()
    candidate.save(update_fields=["status", "status_reason", "decided_at"])
    audit_event_record(
        agency_id=candidate.shop.agency_id,
        event="duplicate.dismissed",
        shop_id=candidate.shop_id,
        target_type="duplicate_candidate",
        target_id=candidate.pk,
        # Ids only: the reason is free text a reviewer may have filled with personal data.
        data={
            "members": candidate.members,
            "pairs_remembered": len(members) * (len(members) - 1) // 2,
        },
        **actor.audit_kwargs(),
    )
    # The members' duplicate_status moved (OPEN -> DISMISSED): segments reading it refresh them.
    duplicate_status_moved(shop_id=candidate.shop_id, customer_ids=candidate.members)
    return candidate


ERASED_REASON = "(reason erased with a customer's personal data)"


def duplicates_erase(*, shop_id: int, customer_ids: Sequence[int]) -> None:
    """Privacy eraser: candidates holding an erased customer carry its raw values; delete them,
    and the dismissals of its pairs. The other members' pairs from the same decision stay
    remembered, but their free-text reason may name the erased customer: it is blanked."""
    erased = set(customer_ids)
    doomed = [
        pk
        for pk, members in DuplicateCandidate.all_shops.filter(shop_id=shop_id).values_list(
            "pk", "members"
        )
        if erased & set(members)
    ]
    DismissedPair.all_shops.filter(shop_id=shop_id, candidate_id__in=doomed).update(
        reason=ERASED_REASON
    )
    DuplicateCandidate.all_shops.filter(pk__in=doomed).delete()
    DismissedPair.all_shops.filter(shop_id=shop_id, customer_low_id__in=erased).delete()
    DismissedPair.all_shops.filter(shop_id=shop_id, customer_high_id__in=erased).delete()
