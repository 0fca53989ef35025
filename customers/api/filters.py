"""Query parameters of GET /api/v1/customers/ (django-filter; bad values answer 400 by name)."""

import django_filters
from django import forms
from django.db.models import Q

from customers.models import Customer, CustomerState
from customers.normalize import email_normalize, phone_normalize

MARKETING_STATES = [
    "NOT_SUBSCRIBED",
    "PENDING",
    "SUBSCRIBED",
    "UNSUBSCRIBED",
    "REDACTED",
    "INVALID",
]


class IdInFilter(django_filters.BaseInFilter, django_filters.NumberFilter):
    """Comma-separated bigint ids; anything else is a 400 naming the parameter."""

    field_class = forms.IntegerField


class CustomerFilter(django_filters.FilterSet):
    shop = IdInFilter(
        field_name="shop_id",
        min_value=1,
        max_value=2**63 - 1,
        help_text="Shop ids, comma-separated.",
    )
    q = django_filters.CharFilter(method="search", help_text="Name, email or phone.")
    tag = django_filters.CharFilter(
        method="with_tags", help_text="Tags the customer has, comma-separated (all must match)."
    )
    state = django_filters.MultipleChoiceFilter(
        choices=CustomerState.choices, help_text="Account state."
    )
    email_marketing_state = django_filters.MultipleChoiceFilter(
        choices=[(s, s) for s in MARKETING_STATES]
    )
    sms_marketing_state = django_filters.MultipleChoiceFilter(
        choices=[(s, s) for s in MARKETING_STATES]
    )
    orders_min = django_filters.NumberFilter(field_name="number_of_orders", lookup_expr="gte")
    orders_max = django_filters.NumberFilter(field_name="number_of_orders", lookup_expr="lte")
    spent_min = django_filters.NumberFilter(field_name="amount_spent", lookup_expr="gte")
    spent_max = django_filters.NumberFilter(field_name="amount_spent", lookup_expr="lte")
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at_shopify", lookup_expr="gte", help_text="ISO 8601 date-time."
    )
    include_deleted = django_filters.BooleanFilter(
        method="with_deleted", help_text="Also list deleted, merged-away and redacted customers."
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        match = (
            Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
            | Q(phone__icontains=value)
        )
        if email := email_normalize(value):
            match |= Q(email_normalized=email)
        if phone := phone_normalize(value):
            match |= Q(phone_e164=phone)
        return queryset.filter(match)

    def with_tags(self, queryset, name, value):
        for tag in (t for t in value.split(",") if t.strip()):
            queryset = queryset.filter(tags_normalized__has_tag=tag)
        return queryset

    def with_deleted(self, queryset, name, value):
        return queryset  # applied in the view: active customers only unless asked

    @property
    def qs(self):
        queryset = super().qs
        if not self.form.cleaned_data.get("include_deleted"):
            queryset = queryset.filter(deleted_at=None, merged_into=None, redacted_at=None)
        return queryset
