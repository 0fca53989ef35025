"""Segments' reads: scope, preview, members (now and as of a date), the change feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db.models import Avg, Count, F, Q, Sum
from django.utils import timezone

from segments.models import (
    OTHER_GROUP,
    Group,
    GroupAssignment,
    GroupMove,
    GroupSet,
    MembershipEvent,
    Segment,
    SegmentMembership,
)
from segments.query import parse_query
from segments.query.check import CheckContext
from segments.query.compile import compile_for_shops, live_customers
from tenants.models import Agency, Shop
from tenants.scoping import shop_scope


class UnknownShops(ValueError):
    """Shop ids that are not the agency's (the API answers 404 / a field error)."""


def agency_shops(*, agency: Agency) -> list[Shop]:
    return list(Shop.objects.filter(agency=agency, status=Shop.Status.INSTALLED).order_by("pk"))


def scope_shops(*, agency: Agency, all_shops: bool, shop_ids) -> list[Shop]:
    """The shops a definition covers; refuses ids outside the agency."""
    shops = agency_shops(agency=agency)
    if all_shops:
        return shops
    wanted = {int(i) for i in shop_ids or ()}
    found = [shop for shop in shops if shop.pk in wanted]
    missing = wanted - {shop.pk for shop in found}
    if missing:
        raise UnknownShops(f"unknown shop ids: {sorted(missing)}")
    return found


def segment_shops(segment: Segment) -> list[Shop]:
    if segment.all_shops:
        return agency_shops(agency=segment.agency)
    return list(segment.shops.filter(status=Shop.Status.INSTALLED).order_by("pk"))


def check_context(shops: list[Shop], *, agency: Agency | None = None) -> CheckContext:
    """What the checker may accept for `shop` and `group` values."""
    groups = None
    if agency is not None:
        groups = frozenset(
            f"{set_slug}:{slug}"
            for set_slug, slug in Group.objects.filter(group_set__agency=agency).values_list(
                "group_set__slug", "slug"
            )
        ) | frozenset(
            f"{slug}:{OTHER_GROUP}"
            for slug in GroupSet.objects.filter(agency=agency).values_list("slug", flat=True)
        )
    return CheckContext(shops=frozenset(shop.domain for shop in shops), groups=groups)


def group_set_shops(group_set) -> list[Shop]:
    if group_set.all_shops:
        return agency_shops(agency=group_set.agency)
    return list(group_set.shops.filter(status=Shop.Status.INSTALLED).order_by("pk"))


def group_stats(*, group_set) -> list[dict]:
    """Per group (in order, then "other"): members, total and average spend, orders."""
    rows = {
        row["group_slug"]: row
        for row in GroupAssignment.all_shops.filter(group_set=group_set)
        .values("group_slug")
        .annotate(
            members=Count("id"),
            total_spent=Sum("customer__amount_spent"),
            average_spent=Avg("customer__amount_spent"),
            orders=Sum("customer__number_of_orders"),
        )
    }
    slugs = [*group_set.groups.order_by("position").values_list("slug", flat=True), OTHER_GROUP]
    empty = {"members": 0, "total_spent": 0, "average_spent": None, "orders": 0}
    return [{"group": slug, **{k: rows.get(slug, empty)[k] for k in empty}} for slug in slugs]


def group_moves_summary(*, group_set, since: datetime) -> list[dict]:
    """How many customers moved from which group to which since a moment
    ("34 active customers became dormant this week")."""
    return list(
        GroupMove.all_shops.filter(group_set=group_set, moved_at__gte=since)
        .values("from_group", "to_group")
        .annotate(customers=Count("id"))
        .order_by("-customers", "from_group", "to_group")
    )


def matching_customers(*, root, shops: list[Shop], now: datetime | None = None):
    """Live customers of `shops` matching a checked AST. Call inside shop_scope(shops)."""
    return (
        live_customers()
        .filter(
            shop_id__in=[s.pk for s in shops],
        )
        .filter(compile_for_shops(root, shops=shops, now=now or timezone.now()))
    )


@dataclass(frozen=True)
class Preview:
    query: str
    counts: dict[int, int]  # shop id -> members
    total: int
    sample: list[dict]
    adds: int | None  # against the segment's current membership, when editing one
    removes: int | None


def segment_preview(
    *,
    agency: Agency,
    query: str,
    all_shops: bool,
    shop_ids=(),
    segment: Segment | None = None,
    sample_size: int = 20,
    now: datetime | None = None,
) -> Preview:
    """What a definition would hold, before saving it. Raises SegmentQueryError/UnknownShops."""
    shops = scope_shops(agency=agency, all_shops=all_shops, shop_ids=shop_ids)
    parsed = parse_query(query, context=check_context(shops, agency=agency))
    with shop_scope([s.pk for s in shops]):
        matching = matching_customers(root=parsed.root, shops=shops, now=now)
        try:
            counts = dict(
                matching.order_by()
                .values("shop_id")
                .annotate(n=Count("pk"))
                .values_list("shop_id", "n")
            )
        except EmptyResultSet:  # pragma: no cover - no shop in scope
            counts = {}
        sample = list(
            matching.order_by("pk").values("id", "shop_id", "first_name", "last_name", "email")[
                :sample_size
            ]
        )
        adds = removes = None
        if segment is not None:
            current = SegmentMembership.objects.filter(segment=segment)
            adds = matching.exclude(pk__in=current.values("customer_id")).count()
            removes = current.exclude(customer_id__in=matching.values("pk")).count()
    return Preview(
        query=parsed.text,
        counts={shop.pk: counts.get(shop.pk, 0) for shop in shops},
        total=sum(counts.values()),
        sample=sample,
        adds=adds,
        removes=removes,
    )


def segment_members_as_of(*, segment: Segment, as_of: datetime, shop_ids):
    """Customer ids that were members at `as_of`, from the ledger (entered more often than
    exited up to then). Call inside shop_scope."""
    return (
        MembershipEvent.objects.filter(
            segment=segment, occurred_at__lte=as_of, shop_id__in=shop_ids
        )
        .values("customer_id")
        .annotate(
            entered=Count("id", filter=Q(kind=MembershipEvent.Kind.ENTERED)),
            exited=Count("id", filter=Q(kind=MembershipEvent.Kind.EXITED)),
        )
        .filter(entered__gt=F("exited"))
        .values_list("customer_id", flat=True)
    )
