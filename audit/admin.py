"""The audit log in the admin: readable, searchable, never editable."""

from django.contrib import admin

from audit.models import AuditChainHead, AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "agency", "seq", "event", "actor", "shop_id", "target"]
    list_filter = ["event", "agency"]
    search_fields = ["event", "actor", "target_type", "target_id", "=shop_id"]
    list_select_related = ["agency"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-seq"]

    @admin.display(description="target")
    def target(self, event):
        return f"{event.target_type}:{event.target_id}" if event.target_type else ""


@admin.register(AuditChainHead)
class AuditChainHeadAdmin(ReadOnlyAdmin):
    list_display = ["agency", "seq", "last_hash"]
    search_fields = ["agency__name"]
