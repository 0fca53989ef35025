"""Shapes of mirrored customers, orders and sync runs in the API."""

from rest_framework import serializers

from customers.models import (
    AccountInviteBatch,
    Customer,
    CustomerAddress,
    CustomerDataExport,
    Order,
    SyncRun,
)
from customers.selectors import customer_detail_sections

CUSTOMER_FIELDS = [
    "id",
    "shop",
    "shopify_id",
    "gid",
    "first_name",
    "last_name",
    "email",
    "phone",
    "state",
    "tags",
    "note",
    "verified_email",
    "tax_exempt",
    "locale",
    "number_of_orders",
    "amount_spent",
    "amount_spent_currency",
    "first_order_at",
    "last_order_at",
    "last_abandoned_checkout_at",
    "created_at_shopify",
    "updated_at_shopify",
    "email_marketing_state",
    "email_marketing_opt_in_level",
    "email_marketing_updated_at",
    "sms_marketing_state",
    "sms_marketing_opt_in_level",
    "sms_marketing_updated_at",
    "default_address_city",
    "default_address_province_code",
    "default_address_country_code",
    "default_address_zip",
    "predicted_spend_tier",
    "is_mergeable",
    "merge_blockers",
    "deleted_at",
    "merged_into",
    "redacted_at",
]


class SelectableFieldsMixin:
    """`?fields=id,email` keeps only those fields; an unknown name is a 400 naming it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        raw = request.query_params.get("fields") if request is not None else None
        if not raw:
            return
        wanted = [name.strip() for name in raw.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in self.fields]
        if unknown:
            raise serializers.ValidationError(
                {
                    "fields": [
                        f"Unknown field(s): {', '.join(unknown)}. Known: {', '.join(self.fields)}."
                    ]
                }
            )
        for name in list(self.fields):
            if name not in wanted:
                self.fields.pop(name)


class CustomerSerializer(SelectableFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = CUSTOMER_FIELDS
        read_only_fields = fields


class AddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerAddress
        fields = [
            "id",
            "shopify_id",
            "is_default",
            "first_name",
            "last_name",
            "company",
            "address1",
            "address2",
            "city",
            "province_code",
            "country_code",
            "zip",
            "phone",
        ]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = [
            "id",
            "shopify_id",
            "name",
            "created_at_shopify",
            "processed_at",
            "updated_at_shopify",
            "total_price",
            "currency",
            "financial_status",
            "cancelled_at",
            "is_test",
            "product_ids",
            "product_tags",
            "deleted_at",
        ]
        read_only_fields = fields


class CustomerDetailSerializer(CustomerSerializer):
    addresses = serializers.SerializerMethodField()
    recent_orders = serializers.SerializerMethodField()
    # Filled by other apps through customers.hooks.customer_detail_sections (see selectors).
    segments = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()
    duplicate_candidates = serializers.SerializerMethodField()
    merge_history = serializers.SerializerMethodField()

    class Meta(CustomerSerializer.Meta):
        fields = [
            *CUSTOMER_FIELDS,
            "addresses",
            "recent_orders",
            "segments",
            "groups",
            "duplicate_candidates",
            "merge_history",
        ]
        read_only_fields = fields

    def _sections(self, customer) -> dict:
        # Computed once per customer, and only when a section is asked for (?fields=...).
        cached = getattr(self, "_sections_cache", None)
        if cached is None or cached[0] != customer.pk:
            cached = (customer.pk, customer_detail_sections(customer=customer))
            self._sections_cache = cached
        return cached[1]

    def get_segments(self, customer) -> list[dict]:
        """Segments the customer is a member of now: id, name, entered_at."""
        return self._sections(customer)["segments"]

    def get_groups(self, customer) -> list[dict]:
        """The customer's group in each group set: group_set {id, slug, name}, group {slug,
        name}, since."""
        return self._sections(customer)["groups"]

    def get_duplicate_candidates(self, customer) -> list[dict]:
        """Open duplicate candidates holding the customer: id, probability, tier, the other
        members {id, name}, suggested survivor."""
        return self._sections(customer)["duplicate_candidates"]

    def get_merge_history(self, customer) -> dict:
        """merged_into {id, shopify_id, name, merged_at} or null, and merged_from [...]."""
        return self._sections(customer)["merge_history"]

    def get_addresses(self, customer) -> list[dict]:
        return AddressSerializer(customer.addresses.all(), many=True).data

    def get_recent_orders(self, customer) -> list[dict]:
        # Named by shop and customer: one partition, read backwards along order_customer.
        orders = Order.all_shops.filter(
            shop_id=customer.shop_id, customer_id=customer.pk, deleted_at=None
        ).order_by("-processed_at", "-id")[:10]
        return OrderSerializer(orders, many=True).data


class SyncRunSerializer(serializers.ModelSerializer):
    progress_percent = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "shop",
            "kind",
            "status",
            "phase",
            "requested_by",
            "records_read",
            "records_created",
            "records_updated",
            "records_deleted",
            "progress_done",
            "progress_total",
            "progress_percent",
            "high_water_mark",
            "created_at",
            "started_at",
            "finished_at",
            "error",
        ]
        read_only_fields = fields


class AccountInviteRequestSerializer(serializers.Serializer):
    """Either `customer_ids` or `segment_id` (every current member of the segment in the shop)."""

    customer_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=10000, required=False
    )
    segment_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)

    def validate(self, attrs):
        if ("customer_ids" in attrs) == ("segment_id" in attrs):
            message = "Give either customer_ids or segment_id (exactly one)."
            raise serializers.ValidationError({"customer_ids": [message], "segment_id": [message]})
        return attrs


class AccountInviteBatchSerializer(serializers.ModelSerializer):
    counts = serializers.SerializerMethodField()

    class Meta:
        model = AccountInviteBatch
        fields = [
            "id",
            "shop",
            "status",
            "requested_by",
            "source",
            "created_at",
            "finished_at",
            "error",
            "counts",
        ]
        read_only_fields = fields

    def get_counts(self, batch) -> dict:
        from django.db.models import Count

        rows = batch.invites.values("status", "skip_reason").annotate(n=Count("id"))
        counts: dict = {}
        for row in rows:
            key = f"skipped_{row['skip_reason']}" if row["status"] == "skipped" else row["status"]
            counts[key] = counts.get(key, 0) + row["n"]
        return counts


class AccountReportSerializer(serializers.Serializer):
    shop_id = serializers.IntegerField()
    customer_accounts = serializers.CharField()
    customers = serializers.IntegerField()
    enabled = serializers.IntegerField()
    invited = serializers.IntegerField()
    declined = serializers.IntegerField()
    disabled = serializers.IntegerField()
    share_enabled = serializers.FloatField()
    share_invited = serializers.FloatField()
    share_declined = serializers.FloatField()


class CustomerDataExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerDataExport
        fields = ["id", "shop", "customer", "customer_shopify_id", "data_request_id", "created_at"]
        read_only_fields = fields


class CustomerDataExportDetailSerializer(CustomerDataExportSerializer):
    class Meta(CustomerDataExportSerializer.Meta):
        # The personal data itself only through the audited download action.
        fields = [*CustomerDataExportSerializer.Meta.fields, "orders_requested"]
        read_only_fields = fields
