"""Segments as audiences for other apps (customers.hooks.customer_audience): account invites
to every member of a segment use this, so the mirror does not import segments."""

from django.db.models import Q

from customers.hooks import UnknownAudience
from segments.models import Segment, SegmentMembership


def segment_members(*, shop_id: int, agency_id: int, ref: int) -> list[int]:
    """The segment's current members in the shop (as of its last refresh), by customer id."""
    segment = (
        Segment.objects.filter(agency_id=agency_id, pk=ref)
        .filter(Q(all_shops=True) | Q(shops__pk=shop_id))
        .first()
    )
    if segment is None:
        raise UnknownAudience(f"no segment {ref} covering this shop in the agency")
    return list(
        SegmentMembership.all_shops.filter(shop_id=shop_id, segment=segment)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
    )
