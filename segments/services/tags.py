"""Tag write-back: keep `<prefix><group>` on each customer in Shopify for a group set.

Only customers whose group changed since the last write are touched (GroupTag remembers what
was written); each customer is recorded as soon as Shopify accepted its change, so a run that
stops half-way resumes with the rest. tagsAdd/tagsRemove are idempotent in Shopify, and the
client paces calls by the cost budget Shopify reports (THROTTLED/429 back off and retry).

A customer Shopify refuses (deleted there before our mirror heard of it, too many tags...) is
skipped and listed in the run's audit event; the run goes on with the others. Failures of the
shop as a whole (token revoked, Shopify unreachable) still stop the run, which resumes later.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from audit.services import audit_event_record
from customers.models import Customer
from segments.models import OTHER_GROUP, GroupAssignment, GroupSet, GroupTag
from tenants.models import Shop
from tenants.shopify import operations
from tenants.shopify.errors import ShopifyNotFound, ShopifyUserErrors

# How many skipped customers (id and Shopify's reason) one audit event lists.
SKIPPED_LISTED = 100


@dataclass(frozen=True)
class WriteBack:
    changed: int
    remaining: int  # still to write, not counting the skipped ones
    skipped: int = 0  # refused by Shopify for this customer alone; tried again next run


def _wanted_tag(group_set: GroupSet, group_slug: str | None) -> str:
    if not group_slug or group_slug == OTHER_GROUP:
        return ""
    return f"{group_set.tag_prefix}{group_slug}"


def _pending(group_set: GroupSet, shop: Shop):
    """(customer, written tag, wanted tag) for customers whose tag is not what it should be."""
    assignments = GroupAssignment.all_shops.filter(group_set=group_set, shop=shop)
    written = GroupTag.all_shops.filter(group_set=group_set, customer=OuterRef("pk")).values("tag")[
        :1
    ]
    current = assignments.filter(customer=OuterRef("pk")).values("group_slug")[:1]
    rows = (
        Customer.all_shops.filter(shop=shop, deleted_at__isnull=True, merged_into__isnull=True)
        .annotate(written=Subquery(written), group_slug=Subquery(current))
        .order_by("pk")
        .values_list("pk", "gid", "written", "group_slug")
    )
    for customer_id, gid, written_tag, group_slug in rows.iterator(chunk_size=2000):
        wanted = _wanted_tag(group_set, group_slug)
        if (written_tag or "") != wanted:
            yield customer_id, gid, written_tag or "", wanted


def group_tags_write_back(
    *, group_set_id: int, shop_id: int, limit: int | None = None
) -> WriteBack:
    """Bring Shopify's group tags in line with the set's groups for one shop."""
    group_set = GroupSet.objects.get(pk=group_set_id)
    shop = Shop.objects.get(pk=shop_id, agency_id=group_set.agency_id)
    changed_ids: list[int] = []
    skipped: dict[int, str] = {}
    for customer_id, gid, written, wanted in _pending(group_set, shop):
        if limit is not None and len(changed_ids) + len(skipped) >= limit:
            break
        try:
            if written:
                operations.tags_remove(shop, gid, [written])
            if wanted:
                operations.tags_add(shop, gid, [wanted])
        except (ShopifyUserErrors, ShopifyNotFound) as error:
            skipped[customer_id] = str(error)[:300]
            continue
        GroupTag.all_shops.update_or_create(
            shop=shop,
            group_set=group_set,
            customer_id=customer_id,
            defaults={"tag": wanted, "written_at": timezone.now()},
        )
        changed_ids.append(customer_id)
    remaining = sum(1 for row in _pending(group_set, shop) if row[0] not in skipped)
    with transaction.atomic():
        audit_event_record(
            agency_id=group_set.agency_id,
            shop_id=shop.pk,
            event="group_set.tags_written",
            target_type="group_set",
            target_id=group_set.pk,
            data={
                "customers": changed_ids[:1000],
                "changed": len(changed_ids),
                "remaining": remaining,
                "skipped": len(skipped),
                "skipped_customers": [
                    {"customer": customer_id, "reason": reason}
                    for customer_id, reason in list(skipped.items())[:SKIPPED_LISTED]
                ],
            },
        )
    return WriteBack(changed=len(changed_ids), remaining=remaining, skipped=len(skipped))
