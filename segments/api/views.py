"""The segments API: definitions, validation, preview, members, the change feed, snapshots,
group sets. Thin: validate, call a selector or service, serialise."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from customers.models import Customer
from segments import selectors
from segments import services as svc
from segments.api import serializers as s
from segments.models import (
    GroupMove,
    GroupSet,
    MembershipEvent,
    Segment,
    SegmentMembership,
    SegmentTemplate,
    Snapshot,
    SnapshotMember,
)
from segments.query import SegmentQueryError, parse_query
from tenants.api.base import TenantScopedAPIView, TenantScopedViewSet
from tenants.api.exceptions import error_body
from tenants.api.pagination import CursorPagination
from tenants.errors import Conflict
from tenants.roles import Permission

MAX_MEMBERS_PAGE = 1000


class MembersPagination(CursorPagination):
    page_size = 100
    max_page_size = MAX_MEMBERS_PAGE

    def get_ordering(self, request, queryset, view):
        return ("pk",)


def _query_error(error: SegmentQueryError) -> Response:
    return Response(
        error_body("invalid_query", str(error), {"query": error.as_list()}),
        status=status.HTTP_400_BAD_REQUEST,
    )


def _shop_error(error: selectors.UnknownShops) -> Response:
    return Response(
        error_body("invalid", "Unknown shops.", {"shop_ids": [str(error)]}),
        status=status.HTTP_400_BAD_REQUEST,
    )


def _template_apply(view, template_key: str, data: dict) -> Response:
    try:
        made = svc.segment_template_apply(
            agency=view.tenant.agency,
            template_key=template_key,
            params=data["params"],
            shop_ids=data["shop_ids"],
            one_per_shop=data["one_per_shop"],
            name=data.get("name"),
            actor=view.tenant.actor,
        )
    except SegmentQueryError as error:
        return _query_error(error)
    except selectors.UnknownShops as error:
        return _shop_error(error)
    except DjangoValidationError as error:
        raise ValidationError(error.message_dict) from error
    return Response(s.SegmentSerializer(made, many=True).data, status=status.HTTP_201_CREATED)


def _visible_shop_ids(view, raw: str | None) -> list[int]:
    ids = list(view.tenant.shop_ids)
    if not raw:
        return ids
    try:
        wanted = {int(x) for x in raw.split(",") if x.strip()}
    except ValueError as exc:
        raise ValidationError({"shop": ["Shop ids, comma-separated."]}) from exc
    return [i for i in ids if i in wanted]


class SegmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    queryset = Segment.objects
    serializer_class = s.SegmentSerializer
    tenant_field = "agency"
    action_permissions = {
        "create": Permission.EDIT_SEGMENTS,
        "partial_update": Permission.EDIT_SEGMENTS,
        "destroy": Permission.EDIT_SEGMENTS,
        "validate": Permission.READ,
        "preview": Permission.READ,
        "restore": Permission.EDIT_SEGMENTS,
        "refresh": Permission.EDIT_SEGMENTS,
        "snapshot_create": Permission.EDIT_SEGMENTS,
        "apply_template": Permission.EDIT_SEGMENTS,
    }

    def scoped_queryset(self):
        return Segment.objects.prefetch_related("shops")

    def create(self, request, *args, **kwargs):
        body = s.SegmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            segment = svc.segment_create(
                agency=self.tenant.agency,
                name=data["name"],
                query=data["query"],
                description=data.get("description", ""),
                all_shops=data.get("all_shops", False),
                shop_ids=data.get("shop_ids", []),
                actor=self.tenant.actor,
            )
        except SegmentQueryError as error:
            return _query_error(error)
        except selectors.UnknownShops as error:
            return _shop_error(error)
        return Response(s.SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        segment = self.get_object()
        body = s.SegmentUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changes = dict(body.validated_data)
        expected = changes.pop("expected_version", None)
        try:
            segment = svc.segment_update(
                agency=self.tenant.agency,
                segment_id=segment.pk,
                actor=self.tenant.actor,
                expected_version=expected,
                **changes,
            )
        except SegmentQueryError as error:
            return _query_error(error)
        except selectors.UnknownShops as error:
            return _shop_error(error)
        except svc.SegmentConflict as error:
            raise Conflict(str(error), code="version_conflict") from error
        return Response(s.SegmentSerializer(segment).data)

    def perform_destroy(self, instance):
        svc.segment_delete(
            agency=self.tenant.agency, segment_id=instance.pk, actor=self.tenant.actor
        )

    @action(detail=False, methods=["post"])
    def validate(self, request, *args, **kwargs):
        """{"valid": true, "query": canonical} or {"valid": false, "errors": [...]}."""
        body = s.QueryInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            shops = selectors.scope_shops(
                agency=self.tenant.agency,
                all_shops=body.validated_data["all_shops"],
                shop_ids=body.validated_data["shop_ids"],
            )
            parsed = parse_query(
                body.validated_data["query"],
                context=selectors.check_context(shops, agency=self.tenant.agency),
            )
        except SegmentQueryError as error:
            return Response({"valid": False, "errors": error.as_list()})
        except selectors.UnknownShops as error:
            return _shop_error(error)
        return Response(
            {"valid": True, "query": parsed.text, "attributes": sorted(parsed.attributes)}
        )

    @action(detail=False, methods=["post"])
    def preview(self, request, *args, **kwargs):
        body = s.QueryInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        segment = None
        if data.get("segment"):
            segment = self.get_queryset().filter(pk=data["segment"]).first()
            if segment is None:
                raise ValidationError({"segment": ["Unknown segment."]})
        try:
            preview = selectors.segment_preview(
                agency=self.tenant.agency,
                query=data["query"],
                all_shops=data["all_shops"],
                shop_ids=data["shop_ids"],
                segment=segment,
            )
        except SegmentQueryError as error:
            return _query_error(error)
        except selectors.UnknownShops as error:
            return _shop_error(error)
        return Response(
            {
                "query": preview.query,
                "total": preview.total,
                "counts": {str(k): v for k, v in preview.counts.items()},
                "sample": preview.sample,
                "adds": preview.adds,
                "removes": preview.removes,
            }
        )

    @action(detail=False, methods=["post"], url_path="templates/apply")
    def apply_template(self, request, *args, **kwargs):
        """Create segments from a template for many shops at once (one per shop by default)."""
        body = s.TemplateApplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _template_apply(self, body.validated_data["template"], body.validated_data)

    @action(detail=True, methods=["get"])
    def members(self, request, *args, **kwargs):
        """Members now, or `as_of` a past moment (from the ledger); `shop=`, `fields=`."""
        segment = self.get_object()
        shop_ids = _visible_shop_ids(self, request.query_params.get("shop"))
        raw_as_of = request.query_params.get("as_of")
        if raw_as_of:
            try:
                as_of = parse_datetime(raw_as_of)
            except ValueError:  # well-formed but impossible, e.g. month 13
                as_of = None
            if as_of is None or as_of.tzinfo is None:
                raise ValidationError({"as_of": ["An ISO 8601 date-time with a time zone."]})
            ids = selectors.segment_members_as_of(segment=segment, as_of=as_of, shop_ids=shop_ids)
        else:
            ids = SegmentMembership.objects.filter(segment=segment, shop_id__in=shop_ids).values(
                "customer_id"
            )
        customers = Customer.objects.filter(pk__in=ids, shop_id__in=shop_ids)
        paginator = MembersPagination()
        page = paginator.paginate_queryset(customers, request, view=self)
        data = s.MemberSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @action(detail=True, methods=["get"])
    def changes(self, request, *args, **kwargs):
        """The entered/exited feed after `since` (the `cursor` of the previous answer)."""
        segment = self.get_object()
        try:
            since = int(request.query_params.get("since") or 0)
            limit = int(request.query_params.get("limit") or 500)
        except ValueError as exc:
            raise ValidationError({"since": ["A cursor from a previous answer."]}) from exc
        if not 1 <= limit <= MAX_MEMBERS_PAGE:
            raise ValidationError({"limit": [f"1 to {MAX_MEMBERS_PAGE}."]})
        events = list(
            MembershipEvent.objects.filter(segment=segment, pk__gt=since)
            .order_by("pk")
            .values("id", "shop_id", "customer_id", "kind", "occurred_at")[:limit]
        )
        cursor = events[-1]["id"] if events else since
        return Response({"cursor": str(cursor), "more": len(events) == limit, "changes": events})

    @action(detail=True, methods=["get"])
    def versions(self, request, *args, **kwargs):
        segment = self.get_object()
        return Response(s.VersionSerializer(segment.versions.all(), many=True).data)

    @action(detail=True, methods=["post"])
    def restore(self, request, *args, **kwargs):
        segment = self.get_object()
        body = s.RestoreSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not segment.versions.filter(number=body.validated_data["version"]).exists():
            raise ValidationError({"version": ["No such version."]})
        try:
            segment = svc.segment_restore(
                agency=self.tenant.agency,
                segment_id=segment.pk,
                version=body.validated_data["version"],
                actor=self.tenant.actor,
            )
        except SegmentQueryError as error:  # e.g. a shop of that version was uninstalled
            return _query_error(error)
        except selectors.UnknownShops as error:
            return _shop_error(error)
        return Response(s.SegmentSerializer(segment).data)

    @action(detail=True, methods=["post"])
    def refresh(self, request, *args, **kwargs):
        segment = self.get_object()
        run = svc.segment_refresh(segment_id=segment.pk, reason="manual", actor=self.tenant.actor)
        return Response(
            {
                "refresh": run.pk,
                "entered": run.entered,
                "exited": run.exited,
                "members": run.members,
            }
        )

    @action(detail=True, methods=["get"])
    def snapshots(self, request, *args, **kwargs):
        segment = self.get_object()
        return Response(s.SnapshotSerializer(segment.snapshots.all(), many=True).data)

    # A separate action name, so reading snapshots needs READ and freezing one EDIT_SEGMENTS.
    @snapshots.mapping.post
    def snapshot_create(self, request, *args, **kwargs):
        segment = self.get_object()
        body = s.SnapshotCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            snapshot = svc.snapshot_create(
                agency=self.tenant.agency,
                segment_id=segment.pk,
                name=body.validated_data["name"],
                actor=self.tenant.actor,
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        return Response(s.SnapshotSerializer(snapshot).data, status=status.HTTP_201_CREATED)


class SnapshotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    queryset = Snapshot.objects
    serializer_class = s.SnapshotSerializer
    tenant_field = "segment__agency"
    cursor_ordering = ("-pk",)

    @action(detail=True, methods=["get"])
    def members(self, request, *args, **kwargs):
        """The frozen members (ids only, so the export outlives the customers' rows)."""
        snapshot = self.get_object()
        rows = SnapshotMember.objects.filter(snapshot=snapshot).values(
            "id", "shop_id", "customer_id"
        )
        paginator = MembersPagination()
        page = paginator.paginate_queryset(rows.order_by("pk"), request, view=self)
        return paginator.get_paginated_response(
            [{"shop": r["shop_id"], "customer": r["customer_id"]} for r in page]
        )


class GroupSetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    queryset = GroupSet.objects
    serializer_class = s.GroupSetSerializer
    tenant_field = "agency"
    action_permissions = {
        "create": Permission.EDIT_SEGMENTS,
        "partial_update": Permission.EDIT_SEGMENTS,
        "refresh": Permission.EDIT_SEGMENTS,
    }

    def create(self, request, *args, **kwargs):
        body = s.GroupSetCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            if data.get("built_in"):
                group_set = svc.group_set_install_built_in(
                    agency=self.tenant.agency, kind=data["built_in"], actor=self.tenant.actor
                )
            else:
                group_set = svc.group_set_create(
                    agency=self.tenant.agency,
                    name=data["name"],
                    slug=data["slug"],
                    groups=[dict(g) for g in data["groups"]],
                    all_shops=data["all_shops"],
                    shop_ids=data["shop_ids"],
                    write_back_tags=data["write_back_tags"],
                    actor=self.tenant.actor,
                )
        except SegmentQueryError as error:
            return _query_error(error)
        except selectors.UnknownShops as error:
            return _shop_error(error)
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        return Response(s.GroupSetSerializer(group_set).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        """Settings: `name`, `write_back_tags` (keep group tags in Shopify), `tag_prefix`."""
        group_set = self.get_object()
        body = s.GroupSetUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            group_set = svc.group_set_update(
                agency=self.tenant.agency,
                group_set_id=group_set.pk,
                actor=self.tenant.actor,
                **body.validated_data,
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        return Response(s.GroupSetSerializer(group_set).data)

    @action(detail=True, methods=["post"])
    def refresh(self, request, *args, **kwargs):
        group_set = self.get_object()
        moves = svc.group_set_refresh(group_set_id=group_set.pk, actor=self.tenant.actor)
        return Response({"moves": moves})

    @action(detail=True, methods=["get"])
    def stats(self, request, *args, **kwargs):
        return Response(selectors.group_stats(group_set=self.get_object()))

    @action(detail=True, methods=["get"])
    def moves(self, request, *args, **kwargs):
        """Moves after `since` (a cursor), with `summary` counts per (from, to)."""
        group_set = self.get_object()
        try:
            since = int(request.query_params.get("since") or 0)
        except ValueError as exc:
            raise ValidationError({"since": ["A cursor from a previous answer."]}) from exc
        moves = list(
            GroupMove.objects.filter(group_set=group_set, pk__gt=since)
            .order_by("pk")
            .values("id", "shop_id", "customer_id", "from_group", "to_group", "moved_at")[
                :MAX_MEMBERS_PAGE
            ]
        )
        return Response({"cursor": str(moves[-1]["id"] if moves else since), "moves": moves})


def _template_row(t, *, origin: str, pk=None) -> dict:
    return {
        "origin": origin,
        "id": pk,
        "key": t.key,
        "name": t.name,
        "description": t.description,
        "query": t.query,
        "parameters": [
            {"name": p.name, "kind": p.kind, "default": p.default} for p in t.parameters
        ],
    }


class SegmentTemplatesView(TenantScopedAPIView):
    """GET /segment-templates/: the library of ready segments and the agency's own templates,
    with their parameters (apply either with POST /segments/templates/apply/)."""

    @extend_schema(responses=s.TemplateSerializer(many=True))
    def get(self, request, *args, **kwargs):
        from segments.templates import LIBRARY, template_of

        rows = [_template_row(t, origin="library") for t in LIBRARY.values()]
        for stored in SegmentTemplate.objects.filter(agency=self.tenant.agency):
            rows.append(_template_row(template_of(stored), origin="agency", pk=stored.pk))
        return Response(rows)


class AgencyTemplateViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """The agency's own templates: a query with `{name}` placeholders and typed parameters."""

    queryset = SegmentTemplate.objects
    serializer_class = s.AgencyTemplateSerializer
    tenant_field = "agency"
    action_permissions = {
        "create": Permission.EDIT_SEGMENTS,
        "partial_update": Permission.EDIT_SEGMENTS,
        "destroy": Permission.EDIT_SEGMENTS,
        "apply": Permission.EDIT_SEGMENTS,
    }

    def _saved(self, call, **kwargs):
        try:
            template = call(agency=self.tenant.agency, actor=self.tenant.actor, **kwargs)
        except SegmentQueryError as error:
            return _query_error(error)
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        return Response(s.AgencyTemplateSerializer(template).data)

    def create(self, request, *args, **kwargs):
        body = s.AgencyTemplateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        answer = self._saved(svc.segment_template_create, **body.validated_data)
        if answer.status_code == status.HTTP_200_OK:
            answer.status_code = status.HTTP_201_CREATED
        return answer

    def partial_update(self, request, *args, **kwargs):
        template = self.get_object()
        body = s.AgencyTemplateUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._saved(
            svc.segment_template_update, template_id=template.pk, **body.validated_data
        )

    def perform_destroy(self, instance):
        svc.segment_template_delete(
            agency=self.tenant.agency, template_id=instance.pk, actor=self.tenant.actor
        )

    @action(detail=True, methods=["post"], serializer_class=s.AgencyTemplateApplySerializer)
    def apply(self, request, *args, **kwargs):
        """Create segments from this template: one per shop (default) or one over them all."""
        template = self.get_object()
        body = s.AgencyTemplateApplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _template_apply(self, template.key, body.validated_data)
