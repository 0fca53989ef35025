"""Query parameters of GET /api/v1/duplicates/ (bad values answer 400 naming the parameter)."""

import django_filters

from customers.api.filters import IdInFilter
from merges.models import DuplicateCandidate


class DuplicateCandidateFilter(django_filters.FilterSet):
    shop = IdInFilter(
        field_name="shop_id",
        min_value=1,
        max_value=2**63 - 1,
        help_text="Shop ids, comma-separated.",
    )
    tier = django_filters.MultipleChoiceFilter(
        choices=DuplicateCandidate.Tier.choices, help_text="high, medium or low (repeatable)."
    )
    status = django_filters.MultipleChoiceFilter(
        choices=DuplicateCandidate.Status.choices,
        help_text="open, dismissed, merge_requested or merged (repeatable; all by default).",
    )
    min_probability = django_filters.NumberFilter(
        field_name="probability",
        lookup_expr="gte",
        min_value=0,
        max_value=1,
        help_text="Only candidates whose weakest link is at least this likely (0 to 1).",
    )

    class Meta:
        model = DuplicateCandidate
        fields: list[str] = []
