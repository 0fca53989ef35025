"""Segments' own tables. The query language lives in `segments.query`."""

from django.db import models

from segments.query.registry import RFM_GROUPS, SPEND_TIERS
from tenants.scoping import ShopOwnedModel


class CustomerScore(ShopOwnedModel):
    """RFM scores, RFM group and predicted spend tier that Clientele computes per store
    (segments.scoring) for stores where Shopify does not hand them to the app."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="segment_score"
    )
    recency = models.PositiveSmallIntegerField(null=True, blank=True)  # 1..5, 5 = most recent
    frequency = models.PositiveSmallIntegerField(null=True, blank=True)
    monetary = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_group = models.CharField(max_length=20, choices=[(g, g) for g in RFM_GROUPS])
    predicted_spend_tier = models.CharField(
        max_length=8, choices=[(t, t) for t in SPEND_TIERS], blank=True, default=""
    )
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["shop", "rfm_group"], name="score_rfm_group"),
            models.Index(fields=["shop", "predicted_spend_tier"], name="score_spend_tier"),
        ]

    def __str__(self) -> str:
        return f"score of customer {self.customer_id}: {self.rfm_group}"
