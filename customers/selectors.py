"""Reads of the mirror that the API and pages share."""

from customers import hooks
from customers.models import Customer

SECTION_NAMES = ("segments", "groups", "duplicate_candidates")


def _merge_entry(customer: Customer) -> dict:
    return {
        "id": customer.id,
        "shopify_id": customer.shopify_id,
        "name": " ".join(p for p in (customer.first_name, customer.last_name) if p),
        # A customer merged away is deleted on Shopify at the merge (customers/merge webhook).
        "merged_at": customer.deleted_at,
    }


def customer_merge_history(*, customer: Customer) -> dict:
    """Where this customer went (`merged_into`) and who was merged into it; two queries at most."""
    merged_into = None
    if customer.merged_into_id is not None:
        survivor = (
            Customer.all_shops.filter(shop_id=customer.shop_id, pk=customer.merged_into_id)
            .only("id", "shopify_id", "first_name", "last_name")
            .first()
        )
        if survivor is not None:
            merged_into = _merge_entry(survivor) | {"merged_at": customer.deleted_at}
    absorbed = (
        Customer.all_shops.filter(shop_id=customer.shop_id, merged_into_id=customer.pk)
        .only("id", "shopify_id", "first_name", "last_name", "deleted_at")
        .order_by("deleted_at", "id")
    )
    return {"merged_into": merged_into, "merged_from": [_merge_entry(c) for c in absorbed]}


def customer_detail_sections(*, customer: Customer) -> dict:
    """The sections other apps add to a customer's detail (customers.hooks), plus merge history.

    A section whose app is not installed is an empty list, so the API's shape never changes.
    """
    sections = {name: [] for name in SECTION_NAMES}
    sections.update(
        hooks.customer_detail_sections(shop_id=customer.shop_id, customer_id=customer.pk)
    )
    sections["merge_history"] = customer_merge_history(customer=customer)
    return sections
