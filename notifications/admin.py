"""Operators' view of outgoing webhooks: subscriptions and delivery status (read-only)."""

from django.contrib import admin

from notifications.models import WebhookDelivery, WebhookSubscription, WebhookTarget


class TargetInline(admin.TabularInline):
    model = WebhookTarget
    extra = 0
    can_delete = False
    fields = ["segment", "group_set", "group_slug", "cursor"]
    readonly_fields = fields


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["id", "agency", "url", "kinds", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "agency__name"]
    fields = ["agency", "url", "description", "kinds", "active", "created_by", "created_at"]
    readonly_fields = ["agency", "url", "description", "kinds", "created_by", "created_at"]
    inlines = [TargetInline]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "subscription",
        "event",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event"]
    exclude = ["payload"]  # customer ids: operators see the counts and the outcome

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "payload"]

    def has_add_permission(self, request, obj=None):
        return False
