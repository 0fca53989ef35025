"""Admin for the mirror: read-only views of what Shopify holds, sync status and progress.

The mirror is written by syncs and webhooks only, so nothing here edits or deletes a row.
"""

from django.contrib import admin

from customers.models import (
    AccountInvite,
    AccountInviteBatch,
    Customer,
    CustomerAddress,
    CustomerDataExport,
    Order,
    SyncRun,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MirrorAdmin(ReadOnlyAdmin):
    """Nor deleted: a row deleted here would come back with the next sync, unaudited, and
    Django's delete() of an instance names neither its shop nor its partition (it would lock
    every shop's partition, and wait for any shop's first sync)."""

    def has_delete_permission(self, request, obj=None):
        return False


class AddressInline(admin.TabularInline):
    model = CustomerAddress
    extra = 0
    can_delete = False
    fields = [
        "shopify_id",
        "is_default",
        "address1",
        "city",
        "province_code",
        "country_code",
        "zip",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Customer)
class CustomerAdmin(MirrorAdmin):
    list_display = ["id", "shop", "shopify_id", "first_name", "last_name", "email", "state",
                    "number_of_orders", "amount_spent", "updated_at_shopify", "deleted_at", "redacted_at"]  # fmt: skip
    list_filter = ["state", "email_marketing_state", "shop"]
    search_fields = ["email_normalized", "last_name_key", "=shopify_id"]
    list_select_related = ["shop"]
    show_full_result_count = False  # a count over millions of rows on every page is wasted work
    inlines = [AddressInline]


@admin.register(Order)
class OrderAdmin(MirrorAdmin):
    list_display = ["id", "shop", "shopify_id", "name", "customer_shopify_id", "total_price",
                    "currency", "financial_status", "processed_at", "cancelled_at", "deleted_at"]  # fmt: skip
    list_filter = ["financial_status", "shop"]
    search_fields = ["=shopify_id", "=customer_shopify_id", "name"]
    list_select_related = ["shop"]
    show_full_result_count = False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "shop", "kind", "status", "phase", "progress", "records_read",
                    "records_created", "records_updated", "records_deleted", "started_at",
                    "finished_at"]  # fmt: skip
    list_filter = ["kind", "status", "shop"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    @admin.display(description="progress")
    def progress(self, run: SyncRun) -> str:
        percent = run.progress_percent
        if percent is None:
            return f"{run.progress_done} objects"
        return f"{percent}% ({run.progress_done}/{run.progress_total})"


@admin.register(CustomerDataExport)
class CustomerDataExportAdmin(ReadOnlyAdmin):
    # The payload is a customer's personal data: agency admins download it (audited) through
    # the API; the operators' admin shows only that an export exists.
    list_display = ["id", "shop", "customer_shopify_id", "data_request_id", "created_at"]
    list_filter = ["shop"]
    fields = ["id", "shop", "customer", "customer_shopify_id", "data_request_id", "created_at"]
    readonly_fields = fields


class InviteInline(admin.TabularInline):
    model = AccountInvite
    extra = 0
    can_delete = False
    fields = ["customer", "status", "skip_reason", "sent_at", "error"]
    readonly_fields = fields
    raw_id_fields = ["customer"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AccountInviteBatch)
class AccountInviteBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "shop", "status", "source", "requested_by", "created_at", "finished_at"]
    list_filter = ["status", "shop"]
    inlines = [InviteInline]
