"""Reads of the duplicate queue: member profiles, the raw fields matching reads, labels."""

from collections.abc import Collection, Iterable

from django.db import connection

from customers.models import Customer, CustomerAddress, Order
from merges.models import DismissedPair, DuplicateCandidate

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


def customer_contacts(*, shop_id: int, customer_ids) -> dict[int, dict[str, str]]:
    """The fields matching reads, as typed, for these customers (active or not): the customer's
    own values, the default address filling what the customer row lacks."""
    ids = list(customer_ids)
    addresses = {
        a.customer_id: a
        for a in CustomerAddress.all_shops.filter(
            shop_id=shop_id, customer_id__in=ids, is_default=True
        ).order_by("-pk")
    }
    out = {}
    for c in Customer.all_shops.filter(shop_id=shop_id, pk__in=ids):
        a = addresses.get(c.pk)
        out[c.pk] = {
            "email": c.email,
            "phone": c.phone or (a.phone if a else ""),
            "first_name": c.first_name or (a.first_name if a else ""),
            "last_name": c.last_name or (a.last_name if a else ""),
            "address1": a.address1 if a else "",
            "postcode": c.default_address_zip or (a.zip if a else ""),
            "city": c.default_address_city or (a.city if a else ""),
            "country_code": c.default_address_country_code or (a.country_code if a else ""),
        }
    return out


_PRODUCTS_SQL = """
    SELECT o.customer_id, array_agg(DISTINCT p.id::bigint)
    FROM customers_order o, jsonb_array_elements_text(o.product_ids) AS p(id)
    WHERE o.shop_id = %s AND o.customer_id IS NOT NULL AND o.deleted_at IS NULL
      AND NOT o.is_test {extra}
    GROUP BY o.customer_id
"""


def purchased_products(
    *, shop_id: int, customer_ids: Iterable[int] | None = None
) -> dict[int, Collection[int]]:
    """The distinct products each customer ordered (the whole shop, or these customers), for the
    orders comparison; customers without orders are left out. Cancelled orders count: they
    still say what the customer wanted."""
    ids = None if customer_ids is None else [int(i) for i in customer_ids]
    if ids is not None and not ids:
        return {}
    if connection.vendor == "postgresql":
        extra, params = "", [shop_id]
        if ids is not None:
            extra, params = "AND o.customer_id = ANY(%s)", [shop_id, ids]
        with connection.cursor() as cursor:
            cursor.execute(_PRODUCTS_SQL.format(extra=extra), params)
            # Row by row, each product id one object, each customer's a tuple (distinct in SQL):
            # a whole shop (780,000 customers with orders at 1,000,000) held as rows, then as
            # sets of fresh ints, cost ~450 MiB; frozensets of shared ints take ~6x a tuple
            # (36.6 against 6.3 MiB for the 78,267 customers with orders of a 100k store).
            ids: dict[int, int] = {}
            return {
                customer: tuple(ids.setdefault(p, p) for p in products)
                for customer, products in cursor
            }
    orders = Order.all_shops.filter(
        shop_id=shop_id, customer__isnull=False, deleted_at__isnull=True, is_test=False
    )
    if ids is not None:
        orders = orders.filter(customer_id__in=ids)
    return products_by_customer(orders.values_list("customer_id", "product_ids"))


def products_by_customer(rows: Iterable) -> dict[int, frozenset[int]]:
    """(customer id, an order's product ids) rows joined per customer."""
    out: dict[int, set[int]] = {}
    for customer, products in rows:
        if products:
            out.setdefault(customer, set()).update(products)
    return {customer: frozenset(products) for customer, products in out.items()}


def labelled_pairs(*, shop_id: int) -> dict[tuple[int, int], bool]:
    """Reviewer and Shopify decisions as pair labels: True = one person (members of merged or
    merge-requested candidates, customers Shopify merged into another), False = different people
    (dismissed pairs). A pair labelled both ways is left out."""
    matches: set[tuple[int, int]] = set()
    decided = DuplicateCandidate.all_shops.filter(
        shop_id=shop_id,
        status__in=[DuplicateCandidate.Status.MERGED, DuplicateCandidate.Status.MERGE_REQUESTED],
    ).values_list("members", flat=True)
    for members in decided:
        ordered = sorted(members)
        matches.update((a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :])
    merged = Customer.all_shops.filter(shop_id=shop_id, merged_into__isnull=False).values_list(
        "pk", "merged_into_id"
    )
    matches.update((min(a, b), max(a, b)) for a, b in merged)
    different = set(
        DismissedPair.all_shops.filter(shop_id=shop_id).values_list(
            "customer_low_id", "customer_high_id"
        )
    )
    labels = {pair: True for pair in matches - different}
    labels.update({pair: False for pair in different - matches})
    return labels


QUEUE_PAGE = 100


def candidate_queue(*, shop_ids, status: str = DuplicateCandidate.Status.OPEN, tier: str = ""):
    """The reviewer's queue: the shops' candidates in one status, strongest first."""
    queryset = DuplicateCandidate.all_shops.filter(shop_id__in=list(shop_ids), status=status)
    if tier:
        queryset = queryset.filter(tier=tier)
    return queryset.select_related("shop").order_by("-probability", "-pk")[:QUEUE_PAGE]


def member_names(*, candidates) -> dict[int, str]:
    """customer id -> "First Last <email>" for the members of these candidates (queue rows)."""
    ids = {m for c in candidates for m in c.members}
    rows = Customer.all_shops.filter(pk__in=ids).values_list(
        "pk", "first_name", "last_name", "email"
    )
    return {
        pk: " ".join(p for p in (first, last) if p) + (f" <{email}>" if email else "")
        for pk, first, last, email in rows
    }


def candidate_of_shops(*, shop_ids, candidate_id: int) -> DuplicateCandidate | None:
    return (
        DuplicateCandidate.all_shops.filter(pk=candidate_id, shop_id__in=list(shop_ids))
        .select_related("shop")
        .first()
    )
