"""Reads of the duplicate queue: the member profiles a reviewer compares side by side."""

from customers.models import Customer
from merges.models import DuplicateCandidate

MEMBER_FIELDS = (
    "id",
    "shopify_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "state",
    "number_of_orders",
    "verified_email",
    "created_at_shopify",
    "is_mergeable",
    "deleted_at",
    "merged_into_id",
)


def candidate_member_profiles(*, candidate: DuplicateCandidate) -> list[dict]:
    """The members as they are in the mirror now, in the candidate's order, survivor flagged.

    A member gone from the mirror (deleted rows are kept as tombstones, so only a purge) is
    listed with `missing: true` so the reviewer sees the group is stale.
    """
    rows = {
        row["id"]: row
        for row in Customer.all_shops.filter(
            shop_id=candidate.shop_id, pk__in=candidate.members
        ).values(*MEMBER_FIELDS)
    }
    profiles = []
    for customer_id in candidate.members:
        row = rows.get(customer_id)
        profile = dict(row) if row else {"id": customer_id, "missing": True}
        profile["is_survivor"] = customer_id == candidate.survivor_id
        profiles.append(profile)
    return profiles
