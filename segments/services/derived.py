"""The derived refresh after the mirror changed: scores, then group sets, then segments, each
only where the change can have moved it (segments.dependencies)."""

from __future__ import annotations

from django.db.models import Q

from segments.dependencies import GROUPS, SCORES, could_change, query_attributes
from segments.models import GroupSet
from segments.services.groups import group_set_refresh, group_set_refresh_customers
from segments.services.membership import segment_refresh, segment_refresh_customers
from segments.services.scores import customer_scores_refresh
from tenants.models import Shop


def _group_sets_for_shop(shop: Shop):
    return (
        GroupSet.objects.filter(agency_id=shop.agency_id)
        .filter(Q(all_shops=True) | Q(shops=shop))
        .distinct()
        .prefetch_related("groups")
    )


def shop_derived_refresh(
    *,
    shop_id: int,
    rescore: bool,
    reason: str,
    customer_ids: list[int] | None = None,
    changed: frozenset[str] | None = None,
) -> dict[str, list[int]]:
    """Scores (when asked), then the shop's group sets, then the segments covering the shop
    (segments may read groups and scores, so the order matters). Only definitions whose
    attributes read a changed field are refreshed; with `customer_ids` only those customers
    are re-evaluated, otherwise the whole definition. Returns the ids refreshed."""
    from segments.signals import segments_for_shop

    done: dict[str, list[int]] = {"group_sets": [], "segments": []}
    shop = Shop.objects.filter(pk=shop_id, status=Shop.Status.INSTALLED).first()
    if shop is None:
        return done
    fields = changed
    if rescore:
        customer_scores_refresh(shop_id=shop_id)
        fields = None if fields is None else fields | {SCORES}
    groups_moved = False
    for group_set in _group_sets_for_shop(shop):
        rules = set().union(*(query_attributes(g.parsed) for g in group_set.groups.all()))
        if not could_change(rules, fields):
            continue
        if customer_ids is None:
            moved = group_set_refresh(group_set_id=group_set.pk)
        else:
            moved = group_set_refresh_customers(
                group_set_id=group_set.pk, customer_ids=customer_ids
            )
        groups_moved = groups_moved or moved > 0
        done["group_sets"].append(group_set.pk)
    if groups_moved and fields is not None:
        fields |= {GROUPS}
    for segment in segments_for_shop(shop):
        if not could_change(segment.attributes, fields):
            continue
        if customer_ids is None:
            segment_refresh(segment_id=segment.pk, reason=reason)
        else:
            segment_refresh_customers(
                segment_id=segment.pk, customer_ids=customer_ids, reason=reason
            )
        done["segments"].append(segment.pk)
    return done
