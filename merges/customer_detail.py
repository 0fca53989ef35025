"""The duplicate candidates section of a customer's API detail (customers.hooks)."""

from customers.models import Customer
from merges.models import DuplicateCandidate


def customer_detail(*, shop_id: int, customer_id: int) -> dict:
    """Open candidates holding the customer, most probable first; two queries at most."""
    candidates = list(
        DuplicateCandidate.all_shops.filter(
            shop_id=shop_id,
            status=DuplicateCandidate.Status.OPEN,
            members__contains=[customer_id],
        )
        .order_by("-probability", "id")
        .only("id", "members", "probability", "tier", "survivor_id", "needs_split", "detected_at")
    )
    others = {m for c in candidates for m in c.members if m != customer_id}
    names = (
        {
            pk: " ".join(p for p in (first, last) if p)
            for pk, first, last in Customer.all_shops.filter(
                shop_id=shop_id, pk__in=others
            ).values_list("id", "first_name", "last_name")
        }
        if others
        else {}
    )
    return {
        "duplicate_candidates": [
            {
                "id": c.id,
                "probability": c.probability,
                "tier": c.tier,
                "members": [
                    {"id": m, "name": names.get(m, "")} for m in c.members if m != customer_id
                ],
                "suggested_survivor": c.survivor_id,
                "needs_split": c.needs_split,
                "detected_at": c.detected_at,
            }
            for c in candidates
        ]
    }
