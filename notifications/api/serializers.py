from rest_framework import serializers

from notifications.models import WebhookDelivery, WebhookSubscription
from notifications.services import KINDS


class SubscriptionSerializer(serializers.ModelSerializer):
    segments = serializers.SerializerMethodField()
    group_sets = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "description",
            "kinds",
            "segments",
            "group_sets",
            "groups",
            "active",
            "paused_at",
            "secret_rotated_at",
            "previous_secret_until",
            "created_at",
        ]
        read_only_fields = fields

    def get_segments(self, subscription) -> list[int]:
        return sorted(t.segment_id for t in subscription.targets.all() if t.segment_id)

    def get_group_sets(self, subscription) -> list[int]:
        return sorted(
            t.group_set_id
            for t in subscription.targets.all()
            if t.group_set_id and not t.group_slug
        )

    def get_groups(self, subscription) -> list[str]:
        return sorted(
            f"{t.group_set.slug}:{t.group_slug}" for t in subscription.targets.all() if t.group_slug
        )


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="Signs every delivery. Shown this once only.")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class SubscriptionCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    description = serializers.CharField(max_length=200, required=False, default="")
    segments = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=50
    )
    group_sets = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=50
    )
    groups = serializers.ListField(
        child=serializers.CharField(max_length=130),
        required=False,
        default=list,
        max_length=50,
        help_text="'set-slug:group-slug': moves into (entered) and out of (exited) the group.",
    )
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=KINDS), required=False, default=list(KINDS)
    )


class SecretRotateSerializer(serializers.Serializer):
    grace_hours = serializers.IntegerField(
        min_value=0,
        max_value=168,
        required=False,
        default=24,
        help_text="How long the previous secret keeps signing too (0: at once only the new).",
    )


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "events",
            "page",
            "pages",
            "first_event_id",
            "last_event_id",
            "created_at",
        ]
        read_only_fields = fields
