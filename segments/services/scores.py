"""Segments' write services."""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import PercentRank
from django.utils import timezone

from audit.services import audit_event_record
from customers.models import Customer
from segments import scoring
from segments.models import CustomerScore
from tenants.models import Shop

_BATCH = 5_000


@dataclass(frozen=True)
class ScoreRefresh:
    shop_id: int
    scored: int
    prospects: int
    removed: int


def customer_scores_refresh(*, shop_id: int) -> ScoreRefresh:
    """Recompute every live customer's RFM group and spend tier for one shop (see
    segments.scoring for the method); atomic, so readers see the old or the new scores."""
    shop = Shop.objects.get(pk=shop_id)
    now = timezone.now()
    live = Customer.all_shops.filter(
        shop_id=shop_id, deleted_at__isnull=True, merged_into__isnull=True
    )
    buyers = live.filter(number_of_orders__gt=0, last_order_at__isnull=False)
    ranked = buyers.annotate(
        r=Window(PercentRank(), order_by=F("last_order_at").asc()),
        f=Window(PercentRank(), order_by=F("number_of_orders").asc()),
        m=Window(PercentRank(), order_by=F("amount_spent").asc()),
    ).values_list("pk", "r", "f", "m")
    with transaction.atomic():
        scored = prospects = 0
        batch: list[CustomerScore] = []
        for customer_id, r, f, m in ranked.iterator(chunk_size=_BATCH):
            recency, frequency, monetary = (scoring.quintile_score(x) for x in (r, f, m))
            batch.append(
                CustomerScore(
                    shop_id=shop_id,
                    customer_id=customer_id,
                    recency=recency,
                    frequency=frequency,
                    monetary=monetary,
                    rfm_group=scoring.rfm_group(recency, frequency, monetary),
                    predicted_spend_tier=scoring.spend_tier(monetary_rank=m, recency=recency),
                    computed_at=now,
                )
            )
            scored += 1
            if len(batch) >= _BATCH:
                _upsert(batch)
                batch = []
        prospect_ids = live.exclude(pk__in=buyers.values("pk")).values_list("pk", flat=True)
        for customer_id in prospect_ids.iterator(chunk_size=_BATCH):
            batch.append(
                CustomerScore(
                    shop_id=shop_id,
                    customer_id=customer_id,
                    rfm_group="PROSPECTS",
                    computed_at=now,
                )
            )
            prospects += 1
            if len(batch) >= _BATCH:
                _upsert(batch)
                batch = []
        _upsert(batch)
        removed, _ = (
            CustomerScore.all_shops.filter(shop_id=shop_id).exclude(computed_at=now).delete()
        )
        audit_event_record(
            agency_id=shop.agency_id,
            shop_id=shop_id,
            event="segments.scores_refreshed",
            target_type="shop",
            target_id=shop_id,
            data={"scored": scored, "prospects": prospects, "removed": removed},
        )
    return ScoreRefresh(shop_id=shop_id, scored=scored, prospects=prospects, removed=removed)


def _upsert(batch: list[CustomerScore]) -> None:
    if not batch:
        return
    CustomerScore.all_shops.bulk_create(
        batch,
        update_conflicts=True,
        unique_fields=["customer"],
        update_fields=[
            "recency",
            "frequency",
            "monetary",
            "rfm_group",
            "predicted_spend_tier",
            "computed_at",
        ],
    )
