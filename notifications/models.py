"""Outgoing webhook subscriptions of an agency, what they follow, and every delivery."""

from django.conf import settings
from django.db import models

from tenants.fields import EncryptedTextField


class WebhookSubscription(models.Model):
    """An API client's URL that receives the enter/exit events of chosen segments and groups.

    The secret signs every delivery (HMAC-SHA256); it is shown once, at creation, and stored
    encrypted because each delivery needs it again."""

    agency = models.ForeignKey(
        "tenants.Agency", on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    secret = EncryptedTextField()
    # Which segment events to send: "entered", "exited" (group moves: into / out of a group).
    kinds = models.JSONField(default=list)
    # Paused (active=False): no delivery is made or sent; the targets' cursors stay where they
    # were, so resuming sends what happened meanwhile.
    active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # After a rotation the old secret also signs deliveries until `previous_secret_until`, so
    # a receiver can switch to the new one without refusing deliveries in between.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"webhook {self.pk} -> {self.url}"

    def signing_secrets(self, now) -> list[str]:
        """The secrets that sign a delivery sent at `now`: the current one, then the previous
        one while its grace period lasts."""
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            secrets.append(self.previous_secret)
        return secrets


class WebhookTarget(models.Model):
    """One thing a subscription follows: a segment, a whole group set, or one group of a set
    (`group_slug`). `cursor` is the last ledger (or move) id already turned into deliveries, so
    each event is sent once and nothing before the subscription existed is replayed."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="targets"
    )
    segment = models.ForeignKey(
        "segments.Segment", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group_set = models.ForeignKey(
        "segments.GroupSet", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group_slug = models.CharField(max_length=60, blank=True, default="")
    cursor = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(segment__isnull=False, group_set__isnull=True, group_slug="")
                | models.Q(segment__isnull=True, group_set__isnull=False),
                name="webhook_target_one_source",
            )
        ]
        indexes = [
            models.Index(fields=["segment"], name="webhook_target_segment"),
            models.Index(fields=["group_set"], name="webhook_target_group_set"),
        ]

    def __str__(self) -> str:
        if self.segment_id:
            return f"segment {self.segment_id}"
        return f"group set {self.group_set_id}" + (f":{self.group_slug}" if self.group_slug else "")


class WebhookDelivery(models.Model):
    """One signed POST: the events of one refresh for one subscription (a page of them when a
    refresh changed more than a page holds). Retried with exponential backoff until delivered
    or out of attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    target = models.ForeignKey(
        WebhookTarget, null=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    event = models.CharField(max_length=40)  # segment.members_changed / group_set.moves
    first_event_id = models.BigIntegerField()
    last_event_id = models.BigIntegerField()
    events = models.PositiveIntegerField()
    page = models.PositiveIntegerField(default=1)
    pages = models.PositiveIntegerField(default=1)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "target", "first_event_id"], name="webhook_delivery_once"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["subscription", "-id"], name="webhook_delivery_list"),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"
