"""The segments and groups sections of a customer's API detail (customers.hooks)."""

from segments.models import OTHER_GROUP, Group, GroupAssignment, SegmentMembership


def customer_detail(*, shop_id: int, customer_id: int) -> dict:
    """Three queries whatever the number of segments, group sets and groups."""
    segments = (
        SegmentMembership.all_shops.filter(shop_id=shop_id, customer_id=customer_id)
        .order_by("segment__name", "segment_id")
        .values("segment_id", "segment__name", "entered_at")
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
        "segments": [
            {"id": m["segment_id"], "name": m["segment__name"], "entered_at": m["entered_at"]}
            for m in segments
        ],
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
