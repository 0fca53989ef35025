"""Admin for webhook deliveries: see what arrived, what failed and why, and retry failures."""

from django.contrib import admin, messages
from django.utils import timezone

from tenants.webhooks.models import WebhookDelivery


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "shop",
        "topic",
        "status",
        "attempts",
        "next_attempt_at",
        "processed_at",
        "short_error",
    )
    list_filter = ("status", "topic")
    search_fields = ("shop__domain", "webhook_id", "event_id")
    list_select_related = ("shop",)
    date_hierarchy = "received_at"
    actions = ("retry_now",)
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return WebhookDelivery.all_shops.select_related("shop")

    @admin.display(description="last error")
    def short_error(self, delivery: WebhookDelivery) -> str:
        return delivery.last_error[:80]

    @admin.action(description="Retry the selected failed or pending deliveries now")
    def retry_now(self, request, queryset):
        retryable = [WebhookDelivery.Status.FAILED, WebhookDelivery.Status.RECEIVED]
        count = queryset.filter(status__in=retryable).update(
            status=WebhookDelivery.Status.RECEIVED, attempts=0, next_attempt_at=timezone.now()
        )
        self.message_user(
            request, f"{count} deliveries will be retried by the next sweep.", messages.SUCCESS
        )
