"""Duplicate detection state kept per shop."""

from django.contrib.postgres.indexes import GinIndex
from django.db import models

from tenants.scoping import ShopOwnedModel


class BlockingKey(ShopOwnedModel):
    """One exact blocking key of one customer (merges.detection.blocking).

    Customers sharing a key are compared; a key shared by too many customers (a placeholder email,
    the store's own phone) is skipped when pairs are read, not when keys are written, so adding one
    customer never has to rewrite other customers' rows. The full scan and the incremental lookup
    read this same table. Rows hold normalised personal data: the privacy eraser deletes them.
    """

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    key_type = models.CharField(max_length=16)
    key_value = models.CharField(max_length=400)

    class Meta:
        indexes = [
            models.Index(fields=["shop", "key_type", "key_value"], name="blockingkey_lookup"),
            models.Index(fields=["shop", "customer"], name="blockingkey_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.key_type} key of customer {self.customer_id}"


class DuplicateCandidate(ShopOwnedModel):
    """A proposed group of profiles of one person, waiting for a reviewer.

    `explanation` holds per-edge waterfalls with the members' raw values (personal data): the
    privacy eraser deletes every candidate that contains an erased customer.
    """

    class Tier(models.TextChoices):
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DISMISSED = "dismissed", "Dismissed"
        MERGE_REQUESTED = "merge_requested", "Merge requested"
        MERGED = "merged", "Merged"

    members = models.JSONField(default=list)  # sorted customer ids
    survivor = models.ForeignKey(
        "customers.Customer",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    survivor_reason = models.CharField(max_length=200, blank=True, default="")
    probability = models.FloatField()
    tier = models.CharField(max_length=8, choices=Tier.choices)
    explanation = models.JSONField(default=dict)
    blockers = models.JSONField(default=list, blank=True)
    needs_split = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    status_reason = models.CharField(max_length=500, blank=True, default="")
    detector_version = models.CharField(max_length=32)
    detected_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["shop", "status", "-probability"], name="candidate_queue"),
            # "the open candidates holding customer X" (incremental check): members @> [X].
            # On PostgreSQL without GIN's pending list (fastupdate = off, migration 0010).
            GinIndex(fields=["members"], name="candidate_members", opclasses=["jsonb_path_ops"]),
        ]

    def __str__(self) -> str:
        return f"duplicate candidate {self.pk} ({self.status})"


class DismissedPair(ShopOwnedModel):
    """A reviewer said these two are different people. The fingerprints are the matching fields as
    they were then: the pair is proposed again only once either side's fields changed."""

    customer_low = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    customer_high = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    fingerprint_low = models.CharField(max_length=64)
    fingerprint_high = models.CharField(max_length=64)
    reason = models.CharField(max_length=500)
    candidate = models.ForeignKey(
        DuplicateCandidate, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "customer_low", "customer_high"], name="dismissedpair_unique"
            )
        ]

    def __str__(self) -> str:
        return f"dismissed pair {self.customer_low_id}/{self.customer_high_id}"


class MatcherFit(ShopOwnedModel):
    """The shop's fitted matching model (merges.detection.scoring.MatchModel as JSON), written by
    the full scan and read by the incremental check so both score with the same weights."""

    params = models.JSONField()
    # How reviewer labels changed the weights (merges.fitting.matcher_save); {} without labels.
    calibration = models.JSONField(default=dict, blank=True)
    detector_version = models.CharField(max_length=32)
    fitted_at = models.DateTimeField()
    # Any write (a refit, the privacy eraser dropping names): processes caching the model reload.
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="matcherfit_one_per_shop")]

    def __str__(self) -> str:
        return f"matcher fit of shop {self.shop_id}"


class ScanWatch(ShopOwnedModel):
    """A full duplicate scan in progress (merges.services.duplicates_find) and the customers that
    incremental checks re-keyed and re-scored while it ran. The scan's read of the shop predates
    their change, so its keys and candidates would undo the check's: after swapping its own in,
    the scan checks them again. Deleted by the scan when it commits its result; a watch left by a
    scan that died is dropped by the shop's next scan."""

    started_at = models.DateTimeField()
    customers = models.JSONField(default=list)  # ids, repeated ones allowed

    def __str__(self) -> str:
        return f"scan watch {self.pk} of shop {self.shop_id}"
