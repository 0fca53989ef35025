"""One row per webhook delivery Shopify made to us: stored before processing, so nothing is lost."""

from django.db import models

from tenants.scoping import ShopOwnedModel


class WebhookDelivery(ShopOwnedModel):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received (processing queued)"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed (gave up after retries)"
        IGNORED = "ignored", "Ignored (no handler for the topic)"

    # X-Shopify-Webhook-Id: unique per delivery; Shopify's retries of one delivery repeat it.
    webhook_id = models.CharField(max_length=100)
    topic = models.CharField(max_length=100)
    # X-Shopify-Event-Id: shared by all deliveries caused by the same merchant action.
    event_id = models.CharField(max_length=100, blank=True, default="")
    triggered_at = models.DateTimeField(null=True, blank=True)
    api_version = models.CharField(max_length=20, blank=True, default="")
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # When a failed attempt is due to be retried; null once processed, ignored or given up.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # When processing was last handed to a task; a received row queued long ago lost its task.
    queued_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "webhook_id"], name="webhook_delivery_unique")
        ]
        indexes = [
            models.Index(fields=["shop", "topic", "received_at"], name="webhook_shop_topic"),
            # The retry sweep looks across shops on purpose, so this index does not lead with shop.
            models.Index(fields=["status", "next_attempt_at"], name="webhook_retry_due"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.webhook_id} ({self.status})"
