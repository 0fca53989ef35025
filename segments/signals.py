"""What segments do when the mirror tells them something changed (customers.hooks)."""

from django.db.models import Q

from segments.models import GroupAssignment, Segment, SegmentMembership
from tenants.models import Shop

# Attributes whose values come from data other than the mirror's customer and order rows.
DERIVED = {"rfm_group", "predicted_spend_tier", "group"}


def segments_for_shop(shop: Shop, *, attributes: set[str] | None = None):
    """Segments whose scope includes the shop (and, when given, that read one of `attributes`)."""
    segments = Segment.objects.filter(agency_id=shop.agency_id).filter(
        Q(all_shops=True) | Q(shops=shop)
    )
    found = segments.distinct()
    if attributes is None:
        return list(found)
    return [s for s in found if attributes & set(s.attributes)]


def mirror_changed(*, shop_id: int, customer_ids=None, reason: str = "", changed=None, **_) -> None:
    """Queue the shop's derived refresh: scores (after a full or delta sync), then the group
    sets and segments whose attributes read something in `changed` (Customer field names, plus
    "orders"; None = anything), for `customer_ids` only when the mirror names them."""
    from segments.tasks import shop_derived_refresh_enqueue

    if changed is not None and not changed:
        return  # the mirror says nothing changed
    shop_derived_refresh_enqueue(
        shop_id=shop_id,
        rescore=customer_ids is None,
        reason="data",
        customer_ids=None if customer_ids is None else sorted({int(i) for i in customer_ids}),
        changed=None if changed is None else sorted(changed),
    )


def customer_export(*, shop_id: int, customer_id: int) -> dict:
    # Membership is keyed by (segment, customer) only: name the agency's segments.
    agency = Shop.objects.filter(pk=shop_id).values_list("agency_id", flat=True)
    segment_ids = list(Segment.objects.filter(agency_id__in=agency).values_list("pk", flat=True))
    segments = (
        SegmentMembership.all_shops.filter(
            segment_id__in=segment_ids, shop_id=shop_id, customer_id=customer_id
        )
        .values_list("segment__name", flat=True)
        .order_by("segment__name")
    )
    groups = GroupAssignment.all_shops.filter(shop_id=shop_id, customer_id=customer_id).values_list(
        "group_set__slug", "group_slug"
    )
    return {
        "segments": list(segments),
        "groups": [f"{set_slug}:{slug}" for set_slug, slug in groups],
    }
