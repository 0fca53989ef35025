"""Shapes of agencies, shops, members and API keys. No token or key hash is ever a field."""

from django.utils import timezone
from rest_framework import serializers

from tenants.models import Agency, ApiKey, Membership, Shop
from tenants.roles import Role


class AgencyMembershipSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="agency.id")
    slug = serializers.CharField(source="agency.slug")
    name = serializers.CharField(source="agency.name")
    role = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())


class MeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["user", "api_key"])
    user = serializers.DictField(allow_null=True)
    api_key = serializers.DictField(allow_null=True)
    agencies = AgencyMembershipSerializer(many=True)


class ShopSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shop
        fields = [
            "id",
            "domain",
            "name",
            "status",
            "scopes",
            "api_version",
            "installed_at",
            "uninstalled_at",
            "currency",
            "timezone",
            "country_code",
            "customer_accounts",
        ]
        read_only_fields = fields


class ShopSyncRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["full", "delta"], default="full")

    def validate(self, attrs):
        # A misspelt or unsupported field would otherwise be dropped and a full sync queued.
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [
                        f"Unknown field(s): {', '.join(unknown)}. Known: {', '.join(self.fields)}."
                    ]
                    for name in unknown
                }
            )
        return attrs


class ShopSyncSerializer(serializers.Serializer):
    shop = serializers.IntegerField()
    sync_run = serializers.IntegerField(help_text="Follow its progress on the shop's sync runs.")
    kind = serializers.CharField()
    status = serializers.CharField()


class MemberUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()


class MemberSerializer(serializers.ModelSerializer):
    user = MemberUserSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = fields


class MemberCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationCreatedSerializer(serializers.Serializer):
    """The same body whoever the email belongs to: it never says whether an account exists."""

    detail = serializers.CharField()
    email = serializers.EmailField()
    role = serializers.CharField()
    expires_at = serializers.DateTimeField()
    accept_url = serializers.CharField(
        help_text="One-time link for the invitee; shown once. They accept it logged in as the "
        "invited email's user, or sign up there."
    )


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class ApiKeySerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "status",
            "expires_at",
            "revoked_at",
            "created_by",
            "created_at",
            "last_used_at",
        ]
        read_only_fields = fields

    def get_status(self, api_key: ApiKey) -> str:
        if api_key.revoked_at is not None:
            return "revoked"
        if api_key.expires_at is not None and api_key.expires_at <= timezone.now():
            return "expired"
        return "active"


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=ApiKey.Scope.choices, default=ApiKey.Scope.READ)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The whole key. Shown once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class AgencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["id", "slug", "name"]
