"""Shapes of the duplicate queue in the API: the list row, the detail with its waterfall."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from merges.models import DuplicateCandidate
from merges.selectors import candidate_member_profiles
from merges.services import DISMISS_REASON_MAX


class BlockerSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    blocker = serializers.CharField(help_text="Shopify's merge blocker, e.g. GIFT_CARDS.")
    hint = serializers.CharField(help_text="What to do so the profiles can be merged.")


class WaterfallRowSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="prior, email, phone, first_name, last_name, address")
    left = serializers.CharField(required=False, help_text="The first customer's raw value.")
    right = serializers.CharField(required=False, help_text="The second customer's raw value.")
    level = serializers.CharField(required=False, help_text="The comparison level reached.")
    weight = serializers.FloatField(help_text="Signed evidence in bits (log2 of m/u).")


class EdgeSerializer(serializers.Serializer):
    customers = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2)
    probability = serializers.FloatField()
    total_weight = serializers.FloatField()
    rows = WaterfallRowSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField())


class MemberProfileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    shopify_id = serializers.IntegerField(required=False)
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False)
    email = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)
    state = serializers.CharField(required=False)
    number_of_orders = serializers.IntegerField(required=False)
    verified_email = serializers.BooleanField(required=False)
    created_at_shopify = serializers.DateTimeField(required=False, allow_null=True)
    is_mergeable = serializers.BooleanField(required=False, allow_null=True)
    deleted_at = serializers.DateTimeField(required=False, allow_null=True)
    merged_into_id = serializers.IntegerField(required=False, allow_null=True)
    is_survivor = serializers.BooleanField()
    missing = serializers.BooleanField(
        required=False, help_text="The profile is no longer in the mirror."
    )


LIST_FIELDS = [
    "id",
    "shop",
    "members",
    "survivor",
    "survivor_reason",
    "probability",
    "tier",
    "blockers",
    "mergeable",
    "needs_split",
    "status",
    "status_reason",
    "detector_version",
    "detected_at",
    "decided_at",
]


class DuplicateCandidateSerializer(serializers.ModelSerializer):
    members = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    blockers = BlockerSerializer(many=True, read_only=True)
    mergeable = serializers.SerializerMethodField(
        help_text="False while a member has a Shopify merge blocker."
    )

    class Meta:
        model = DuplicateCandidate
        fields = LIST_FIELDS
        read_only_fields = fields

    def get_mergeable(self, candidate) -> bool:
        return not candidate.blockers


class DuplicateCandidateDetailSerializer(DuplicateCandidateSerializer):
    member_profiles = serializers.SerializerMethodField()
    edges = serializers.SerializerMethodField(
        help_text="Per linked pair: the waterfall of evidence (prior, then each field)."
    )

    class Meta(DuplicateCandidateSerializer.Meta):
        fields = [*LIST_FIELDS, "member_profiles", "edges"]
        read_only_fields = fields

    @extend_schema_field(MemberProfileSerializer(many=True))
    def get_member_profiles(self, candidate) -> list[dict]:
        return MemberProfileSerializer(
            candidate_member_profiles(candidate=candidate), many=True
        ).data

    @extend_schema_field(EdgeSerializer(many=True))
    def get_edges(self, candidate) -> list[dict]:
        return EdgeSerializer((candidate.explanation or {}).get("edges", []), many=True).data


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=DISMISS_REASON_MAX,
        help_text="Why these are different people (kept with the decision).",
    )
