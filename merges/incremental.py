"""The incremental duplicate check: a few new or changed customers (a webhook, a delta sync)
checked against the shop's blocking key table with the stored model, and the mirror hook's
decision between this check and a scan (merges.tasks)."""

from collections.abc import Iterable, Sequence

import numpy as np
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from merges.detection import blocking
from merges.fitting import matcher_model
from merges.models import DuplicateCandidate
from merges.services import _candidate, _propose, duplicates_find


def _open_touching(shop_id: int, customer_ids: set[int]) -> list[tuple[int, list[int]]]:
    """(pk, members) of the open candidates holding any of these customers (GIN index lookup)."""
    if not customer_ids:
        return []
    open_ones = DuplicateCandidate.all_shops.filter(
        shop_id=shop_id, status=DuplicateCandidate.Status.OPEN
    )
    if connection.vendor != "postgresql":  # the SQLite demo: no JSON containment lookup
        rows = open_ones.values_list("pk", "members")
        return [(pk, members) for pk, members in rows if customer_ids & set(members)]
    holds = Q()
    for customer_id in customer_ids:
        holds |= Q(members__contains=[customer_id])
    return list(open_ones.filter(holds).values_list("pk", "members"))


def _without_waiting_for_disk() -> None:
    """This transaction's commit does not wait for the WAL flush (PostgreSQL). Only derived rows
    are written (keys, candidates): a crash can lose the last few milliseconds of them, and the
    next check or scan writes them again. Saves an fsync per webhook on a busy disk."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def duplicates_check_customers(*, shop_id: int, customer_ids: Sequence[int]) -> int:
    """Incremental path for new or changed customers: refresh their blocking keys, look up their
    neighbours in the key table, re-score the affected neighbourhood with the stored model and
    replace the open candidates it touches. Returns how many open candidates it now has."""
    model = matcher_model(shop_id=shop_id)
    if model is None:  # never scanned: the first scan fits the model
        return duplicates_find(shop_id=shop_id, full=True).candidates
    changed = set(customer_ids)
    with transaction.atomic():
        _without_waiting_for_disk()
        refreshed = blocking.blocking_keys_refresh(shop_id=shop_id, customer_ids=list(changed))
        neighbours = {c: blocking.candidates_of(shop_id=shop_id, customer_id=c) for c in changed}
        affected = changed.union(*neighbours.values())
        stale = _open_touching(shop_id, affected)
        for _pk, members in stale:
            affected.update(members)
        for customer_id in affected - neighbours.keys():
            neighbours[customer_id] = blocking.candidates_of(
                shop_id=shop_id, customer_id=customer_id
            )
        pairs = sorted(
            {(min(a, b), max(a, b)) for a in affected for b in neighbours[a] if b in affected}
        )
        others = affected - changed
        records = refreshed + (
            blocking.match_fields_load(shop_id=shop_id, customer_ids=list(others)) if others else []
        )
        live = {r.customer_id for r in records}
        pair_array = np.array(
            [p for p in pairs if p[0] in live and p[1] in live], dtype=np.int64
        ).reshape(-1, 2)
        proposals = _propose(shop_id, model, records, pair_array)
        now = timezone.now()
        DuplicateCandidate.all_shops.filter(pk__in=[pk for pk, _ in stale]).delete()
        DuplicateCandidate.all_shops.bulk_create(
            [_candidate(shop_id, g, e, now) for g, e in proposals]
        )
    return len(proposals)


# Customer fields whose change can change a candidate: what matching reads (names, contact, the
# default address), whether the profile is still active, and Shopify's merge blockers. Consent,
# tags, notes and order totals are not among them: a change of only those needs no check.
MATCH_RELEVANT_FIELDS = frozenset(
    {
        "email", "email_normalized", "phone", "phone_e164", "first_name", "last_name",
        "last_name_key", "default_address_zip", "default_address_city",
        "default_address_country_code", "addresses", "deleted_at", "merged_into",
        "redacted_at", "is_mergeable", "merge_blockers",
    }
)  # fmt: skip
# Above this many changed customers one pass over the key table beats a lookup per customer.
INCREMENTAL_MAX_CUSTOMERS = 2_000
# Full re-reads of the store: the data the weights were fitted on may have shifted, so refit.
REFIT_REASONS = frozenset({"full_sync", "reconcile"})


def duplicates_check_needed(*, changed: Iterable[str] | None) -> bool:
    """Whether a mirror change that touched these Customer fields (None: any) can change a
    duplicate candidate."""
    return changed is None or not MATCH_RELEVANT_FIELDS.isdisjoint(changed)


def duplicates_mirror_changed(
    *, shop_id: int, customer_ids: Sequence[int] | None, reason: str
) -> str:
    """Bring the shop's open candidates up to date after a mirror change; says what it ran.

    Incremental for a few customers; one scan with the stored weights (their keys refreshed
    first) for many, or when the ids are unknown; a scan with a refit only after a full
    re-read or while the shop has no fitted model."""
    has_model = matcher_model(shop_id=shop_id) is not None  # None too for an outdated fit
    if not has_model or (customer_ids is None and reason in REFIT_REASONS):
        duplicates_find(shop_id=shop_id, full=True, refit=True)
        return "scan+refit"
    if customer_ids is None:
        duplicates_find(shop_id=shop_id, full=True, refit=False)
        return "scan"
    if len(customer_ids) > INCREMENTAL_MAX_CUSTOMERS:
        blocking.blocking_keys_refresh(shop_id=shop_id, customer_ids=list(customer_ids))
        duplicates_find(shop_id=shop_id, full=False, refit=False)
        return "scan"
    duplicates_check_customers(shop_id=shop_id, customer_ids=customer_ids)
    return "incremental"
