"""The append-only, hash-chained audit log.

One chain per agency: each event stores the hash of the previous one, so editing or deleting a
row breaks verification from that point on. Payloads carry ids and field names, never personal
data, so erasing a customer keeps the chain verifiable. `shop_id` is a plain column (no foreign
key) so a shop's erasure does not cascade into the log.
"""

from django.conf import settings
from django.db import models


class AuditChainHead(models.Model):
    """The last link of an agency's chain; locked while appending so links stay in order."""

    agency = models.OneToOneField("tenants.Agency", on_delete=models.PROTECT, primary_key=True)
    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"agency {self.agency_id} at #{self.seq}"


class AuditEvent(models.Model):
    agency = models.ForeignKey("tenants.Agency", on_delete=models.PROTECT, related_name="+")
    seq = models.BigIntegerField()
    shop_id = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "user:<id>", "api_key:<prefix>", "shopify" (webhooks), "system" (schedules, tasks)
    actor = models.CharField(max_length=64)
    event = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["agency_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "seq"], name="audit_event_seq_unique")
        ]
        indexes = [
            models.Index(fields=["shop_id", "occurred_at"], name="audit_shop_time"),
            models.Index(fields=["agency", "event", "occurred_at"], name="audit_agency_event"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event} {self.target_type}:{self.target_id}"
