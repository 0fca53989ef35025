"""Duplicate candidates: the full scan that proposes them and the reviewer's dismissal."""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from customers.models import Customer, CustomerAddress, CustomerState
from merges.detection import blocking, groups, scoring
from merges.detection.compare import RecordTable
from merges.detection.normalize import MatchFields
from merges.models import DismissedPair, DuplicateCandidate
from tenants.models import Shop

DETECTOR_VERSION = "fs-1"
Progress = Callable[[str], None]


def tier_of(probability: float) -> str:
    if probability >= groups.HIGH_THRESHOLD:
        return DuplicateCandidate.Tier.HIGH
    if probability >= 0.95:
        return DuplicateCandidate.Tier.MEDIUM
    return DuplicateCandidate.Tier.LOW


def fingerprint(record: MatchFields) -> str:
    """A digest of everything matching looks at; changes when any matching field changes."""
    values = [
        repr(getattr(record, name)) for name in MatchFields.__slots__ if name != "customer_id"
    ]
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:32]


def _dismissed(shop_id: int, prints: dict[int, str]) -> set[tuple[int, int]]:
    """Dismissed pairs whose two sides still have the fingerprints they had when dismissed."""
    rows = DismissedPair.all_shops.filter(shop_id=shop_id).values_list(
        "customer_low_id", "customer_high_id", "fingerprint_low", "fingerprint_high"
    )
    return {(a, b) for a, b, fa, fb in rows if prints.get(a) == fa and prints.get(b) == fb}


def _members(shop_id: int, ids: Sequence[int]) -> dict[int, groups.Member]:
    rows = Customer.all_shops.filter(shop_id=shop_id, pk__in=list(ids)).values_list(
        "pk",
        "state",
        "number_of_orders",
        "verified_email",
        "created_at_shopify",
        "is_mergeable",
        "merge_blockers",
    )
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
        for pk, state, orders, verified, created, mergeable, blockers in rows
    }


def _raw_values(shop_id: int, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """What the reviewer sees per field: the values as typed, not the normalised keys."""
    addresses = {
        a.customer_id: a
        for a in CustomerAddress.all_shops.filter(
            shop_id=shop_id, customer_id__in=list(ids), is_default=True
        )
    }
    out = {}
    for c in Customer.all_shops.filter(shop_id=shop_id, pk__in=list(ids)):
        a = addresses.get(c.pk)
        out[c.pk] = {
            "email": c.email,
            "phone": c.phone or (a.phone if a else ""),
            "first_name": c.first_name or (a.first_name if a else ""),
            "last_name": c.last_name or (a.last_name if a else ""),
            "address": ", ".join(p for p in (a.address1, a.zip, a.city) if p)
            if a
            else c.default_address_zip,
        }
    return out


@dataclass
class ScanResult:
    customers: int
    pairs: int
    candidates: int


def duplicates_find(
    *, shop_id: int, full: bool = True, progress: Progress | None = None
) -> ScanResult:
    """Scan a shop: rebuild blocking keys, fit the model, score blocked pairs, form guarded groups,
    and replace the shop's *open* candidates (dismissed and requested ones are kept as they are)."""
    say = progress or (lambda _message: None)
    shop = Shop.objects.get(pk=shop_id)
    records = blocking.match_fields_load(shop_id=shop_id)
    say(f"{len(records)} active customers")
    if full:
        blocking.blocking_keys_rebuild(shop_id=shop_id, records=records)
        say("blocking keys rebuilt")
    pairs = blocking.candidate_pairs(shop_id=shop_id)
    say(f"{len(pairs)} candidate pairs")
    built: list[groups.Group] = []
    explanations: dict[tuple[int, int], dict] = {}
    if len(pairs):
        table = RecordTable.build(records)
        left, right = table.positions(pairs[:, 0]), table.positions(pairs[:, 1])
        model = scoring.fit(table, left, right)
        scored = scoring.score_pairs(model, table, left, right)
        say("pairs scored")
        prints = {r.customer_id: fingerprint(r) for r in records}
        pair_list = [(int(a), int(b)) for a, b in pairs.tolist()]
        cannot_link = _dismissed(shop_id, prints) | groups.level_vetoes(pair_list, scored.levels)
        keep = np.flatnonzero(scored.probability >= groups.REVIEW_THRESHOLD)
        member_ids = {m for i in keep for m in pair_list[i]}
        built = groups.build_groups(
            ((pair_list[i][0], pair_list[i][1], float(scored.probability[i])) for i in keep),
            _members(shop_id, list(member_ids)),
            cannot_link=cannot_link,
        )
        raw = _raw_values(shop_id, list({m for g in built for m in g.members}))
        index = {pair_list[i]: i for i in keep}
        for group in built:
            for edge in group.edges:
                explanations[edge] = scoring.waterfall(
                    model,
                    scored,
                    index[edge],
                    left=raw.get(edge[0], {}),
                    right=raw.get(edge[1], {}),
                )
    now = timezone.now()
    with transaction.atomic():
        DuplicateCandidate.all_shops.filter(
            shop_id=shop_id, status=DuplicateCandidate.Status.OPEN
        ).delete()
        DuplicateCandidate.all_shops.bulk_create(
            [
                DuplicateCandidate(
                    shop_id=shop_id,
                    members=g.members,
                    survivor_id=g.survivor,
                    survivor_reason=g.survivor_reason,
                    probability=g.probability,
                    tier=tier_of(g.probability),
                    explanation={
                        "edges": [
                            {"customers": list(edge), "probability": p, **explanations[edge]}
                            for edge, p in sorted(g.edges.items())
                        ]
                    },
                    blockers=g.blockers,
                    needs_split=g.needs_split,
                    detector_version=DETECTOR_VERSION,
                    detected_at=now,
                )
                for g in built
            ]
        )
        audit_event_record(
            agency_id=shop.agency_id,
            event="duplicates.scanned",
            shop_id=shop_id,
            target_type="shop",
            target_id=shop_id,
            data={
                "customers": len(records),
                "pairs": len(pairs),
                "candidates": len(built),
                "full": full,
            },
        )
    say(f"{len(built)} open candidates")
    return ScanResult(customers=len(records), pairs=len(pairs), candidates=len(built))


@transaction.atomic
def duplicate_dismiss(
    *, candidate: DuplicateCandidate, reason: str, actor: str = "system", actor_user=None
) -> DuplicateCandidate:
    """Mark a candidate as not duplicates and remember each of its pairs with the current
    fingerprints, so no scan proposes them again until a side's matching fields change."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a dismissal needs a reason")
    if candidate.status != DuplicateCandidate.Status.OPEN:
        raise ValueError(f"only open candidates can be dismissed, this one is {candidate.status}")
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
                    "reason": reason[:500],
                    "candidate": candidate,
                },
            )
    candidate.status = DuplicateCandidate.Status.DISMISSED
    candidate.status_reason = reason[:500]
    candidate.decided_at = timezone.now()
    candidate.save(update_fields=["status", "status_reason", "decided_at"])
    audit_event_record(
        agency_id=candidate.shop.agency_id,
        event="duplicate.dismissed",
        actor=actor,
        actor_user=actor_user,
        shop_id=candidate.shop_id,
        target_type="duplicate_candidate",
        target_id=candidate.pk,
        data={"members": candidate.members},
    )
    return candidate


def duplicates_erase(*, shop_id: int, customer_ids: Sequence[int]) -> None:
    """Privacy eraser: candidates holding an erased customer carry its raw values; delete them."""
    erased = set(customer_ids)
    doomed = [
        pk
        for pk, members in DuplicateCandidate.all_shops.filter(shop_id=shop_id).values_list(
            "pk", "members"
        )
        if erased & set(members)
    ]
    DuplicateCandidate.all_shops.filter(pk__in=doomed).delete()
    DismissedPair.all_shops.filter(shop_id=shop_id, customer_low_id__in=erased).delete()
    DismissedPair.all_shops.filter(shop_id=shop_id, customer_high_id__in=erased).delete()
