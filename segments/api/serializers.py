from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from segments.models import GroupSet, Segment, SegmentTemplate, SegmentVersion, Snapshot
from segments.templates import KINDS


class SegmentSerializer(serializers.ModelSerializer):
    shop_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "query",
            "all_shops",
            "shop_ids",
            "attributes",
            "version",
            "uses_relative_dates",
            "created_at",
            "updated_at",
            "last_refreshed_at",
            "members",
        ]
        read_only_fields = [
            "id",
            "attributes",
            "version",
            "uses_relative_dates",
            "created_at",
            "updated_at",
            "last_refreshed_at",
            "members",
        ]
        extra_kwargs = {"all_shops": {"required": False}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["shop_ids"] = sorted(shop.pk for shop in instance.shops.all())
        return data


class SegmentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    query = serializers.CharField(required=False)
    all_shops = serializers.BooleanField(required=False)
    shop_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    expected_version = serializers.IntegerField(required=False)


class QueryInputSerializer(serializers.Serializer):
    query = serializers.CharField(trim_whitespace=False)
    all_shops = serializers.BooleanField(default=True)
    shop_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    segment = serializers.IntegerField(required=False, help_text="Compare with this segment.")


class VersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentVersion
        fields = [
            "number",
            "name",
            "description",
            "query",
            "all_shops",
            "shop_ids",
            "diff",
            "edited_by",
            "edited_at",
        ]


class RestoreSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = Snapshot
        fields = ["id", "segment", "name", "query", "members", "created_at"]
        read_only_fields = fields


class SnapshotCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class MemberSerializer(serializers.Serializer):
    """A member: the customer's ids and the fields asked for with ?fields=."""

    id = serializers.IntegerField()
    shop = serializers.IntegerField(source="shop_id")
    shopify_id = serializers.IntegerField()
    gid = serializers.CharField()
    email = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    number_of_orders = serializers.IntegerField()
    amount_spent = serializers.DecimalField(max_digits=20, decimal_places=4)
    tags = serializers.ListField(child=serializers.CharField())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        raw = request.query_params.get("fields") if request is not None else None
        if raw:
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
                if name not in wanted and name != "id":
                    self.fields.pop(name)


class GroupSetSerializer(serializers.ModelSerializer):
    groups = serializers.SerializerMethodField()

    class Meta:
        model = GroupSet
        fields = [
            "id",
            "name",
            "slug",
            "all_shops",
            "write_back_tags",
            "tag_prefix",
            "groups",
            "last_refreshed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "position": {"type": "integer"},
                    "name": {"type": "string"},
                    "slug": {"type": "string"},
                    "query": {"type": "string"},
                },
            },
        }
    )
    def get_groups(self, group_set) -> list[dict]:
        return [
            {"position": g.position, "name": g.name, "slug": g.slug, "query": g.query}
            for g in group_set.groups.order_by("position")
        ]


class GroupInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=60)
    query = serializers.CharField()


class GroupSetCreateSerializer(serializers.Serializer):
    built_in = serializers.ChoiceField(choices=["lifecycle", "rfm"], required=False)
    name = serializers.CharField(required=False, max_length=200)
    slug = serializers.SlugField(required=False, max_length=60)
    all_shops = serializers.BooleanField(default=True)
    shop_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    groups = GroupInputSerializer(many=True, required=False)
    write_back_tags = serializers.BooleanField(
        default=False, help_text="Custom sets only; built-in sets: switch it on with PATCH."
    )

    def validate(self, data):
        if not data.get("built_in") and not (
            data.get("name") and data.get("slug") and data.get("groups")
        ):
            raise serializers.ValidationError("Give built_in, or name, slug and groups.")
        if data.get("built_in") and data.get("write_back_tags"):
            raise serializers.ValidationError(
                {"write_back_tags": ["Install the built-in set, then PATCH write_back_tags."]}
            )
        return data


class GroupSetUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    write_back_tags = serializers.BooleanField(required=False)
    tag_prefix = serializers.CharField(required=False, max_length=40, trim_whitespace=False)

    def validate(self, data):
        if not data:
            raise serializers.ValidationError("Give name, write_back_tags or tag_prefix.")
        return data


class TemplateApplySerializer(serializers.Serializer):
    template = serializers.CharField(help_text="A library key or one of the agency's templates.")
    params = serializers.DictField(required=False, default=dict)
    shop_ids = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        default=list,
        help_text="Empty: every installed shop of the agency.",
    )
    one_per_shop = serializers.BooleanField(
        default=True, help_text="One segment per shop (default), or one over all of them."
    )
    name = serializers.CharField(
        required=False, max_length=200, help_text="Default: the template's."
    )


class AgencyTemplateApplySerializer(TemplateApplySerializer):
    template = None


class TemplateParameterInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    kind = serializers.ChoiceField(choices=KINDS)
    default = serializers.JSONField(required=False, allow_null=True, default=None)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class AgencyTemplateSerializer(serializers.ModelSerializer):
    parameters = TemplateParameterInputSerializer(many=True, required=False, default=list)

    class Meta:
        model = SegmentTemplate
        fields = [
            "id",
            "key",
            "name",
            "description",
            "query",
            "parameters",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"description": {"required": False}, "key": {"validators": []}}


class AgencyTemplateUpdateSerializer(serializers.Serializer):
    key = serializers.SlugField(required=False, max_length=60)
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    query = serializers.CharField(required=False)
    parameters = TemplateParameterInputSerializer(many=True, required=False)


class TemplateParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    default = serializers.JSONField()


class TemplateSerializer(serializers.Serializer):
    origin = serializers.ChoiceField(choices=["library", "agency"])
    id = serializers.IntegerField(allow_null=True, help_text="Agency templates only.")
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    query = serializers.CharField()
    parameters = TemplateParameterSerializer(many=True)
