"""The segments and groups sections of a customer's API detail (customers.hooks)."""

from django.db.models import Subquery

from segments.models import OTHER_GROUP, Group, GroupAssignment, Segment, SegmentMembership
from tenants.models import Shop


def customer_detail(*, shop_id: int, customer_id: int) -> dict:
    """Four queries whatever the number of segments, group sets and groups."""
    # Membership is indexed by (segment, customer) only (refreshes write it in bulk), so the
    # lookup names the agency's segments: one index probe each instead of a table scan.
    agency = Shop.objects.filter(pk=shop_id).values("agency_id")
    names = dict(Segment.objects.filter(agency_id=Subquery(agency)).values_list("id", "name"))
    members = (
        SegmentMembership.all_shops.filter(
            segment_id__in=list(names), customer_id=customer_id
        ).values_list("segment_id", "entered_at")
        if names
        else []
    )
    segments = sorted(
        ({"id": sid, "name": names[sid], "entered_at": at} for sid, at in members),
        key=lambda s: (s["name"], s["id"]),
    )
    assignments = list(
        GroupAssignment.all_shops.filter(shop_id=shop_id, customer_id=customer_id)
        .order_by("group_set__name", "group_set_id")
        .values("group_set_id", "group_set__slug", "group_set__name", "group_slug", "since")
    )
    group_names = (
        dict(
            ((set_id, slug), name)
            for set_id, slug, name in Group.objects.filter(
                group_set_id__in=[a["group_set_id"] for a in assignments]
            ).values_list("group_set_id", "slug", "name")
        )
        if assignments
        else {}
    )
    return {
        "segments": segments,
        "groups": [
            {
                "group_set": {
                    "id": a["group_set_id"],
                    "slug": a["group_set__slug"],
                    "name": a["group_set__name"],
                },
                "group": {
                    "slug": a["group_slug"],
                    "name": group_names.get(
                        (a["group_set_id"], a["group_slug"]),
                        "Other" if a["group_slug"] == OTHER_GROUP else a["group_slug"],
                    ),
                },
                "since": a["since"],
            }
            for a in assignments
        ],
    }
