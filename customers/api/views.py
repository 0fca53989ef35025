"""Customer mirror endpoints: customers, sync runs, account invites/report, data exports. Thin:
selectors and services do the work; the tenant base does authentication and scoping."""

import json

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from audit.services import audit_event_record
from customers.accounts import (
    InvitesNotAvailable,
    account_invites_request,
    account_invites_request_audience,
    account_invites_resume,
    account_report,
)
from customers.api import serializers as s
from customers.api.filters import CustomerFilter
from customers.hooks import UnknownAudience
from customers.models import AccountInviteBatch, Customer, CustomerDataExport, SyncRun
from tenants.api.base import TenantScopedAPIView, TenantScopedViewSet
from tenants.errors import Conflict, DomainError
from tenants.models import Shop
from tenants.roles import Permission


class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Mirrored customers across the caller's shops (active ones unless include_deleted)."""

    queryset = Customer.all_shops.none()  # names the model; requests use scoped_queryset()
    filterset_class = CustomerFilter

    def scoped_queryset(self):
        if self.action == "retrieve":
            return Customer.objects.prefetch_related("addresses")
        return Customer.objects.all()

    def get_serializer_class(self):
        return s.CustomerDetailSerializer if self.action == "retrieve" else s.CustomerSerializer


class ShopNestedMixin:
    """Endpoints under /shops/{shop_pk}/: a shop outside the caller's agency answers 404."""

    def shop(self) -> Shop:
        try:
            shop_pk = int(self.kwargs["shop_pk"])
        except (TypeError, ValueError) as exc:
            raise NotFound("No such shop.") from exc
        if shop_pk not in self.tenant.shop_ids:
            raise NotFound("No such shop.")
        return Shop.objects.get(pk=shop_pk)


class SyncRunViewSet(
    ShopNestedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet
):
    """A shop's sync runs, newest first, with their progress."""

    queryset = SyncRun.all_shops.none()  # names the model; requests use scoped_queryset()
    serializer_class = s.SyncRunSerializer
    cursor_ordering = ("-pk",)
    filterset_fields = ["kind", "status"]

    def scoped_queryset(self):
        return SyncRun.objects.filter(shop=self.shop())


class AccountInviteBatchViewSet(
    ShopNestedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet
):
    """Account invite batches of a shop (classic customer accounts only)."""

    # Names the model only; requests read scoped_queryset() inside the tenant scope.
    queryset = AccountInviteBatch.all_shops.none()
    serializer_class = s.AccountInviteBatchSerializer
    cursor_ordering = ("-pk",)
    # Inviting emails the shop's customers: shop administration, not a segment edit.
    action_permissions = {"create": Permission.INSTALL_SHOPS, "resume": Permission.INSTALL_SHOPS}

    def scoped_queryset(self):
        return AccountInviteBatch.objects.filter(shop=self.shop())

    @extend_schema(
        request=s.AccountInviteRequestSerializer, responses={202: s.AccountInviteBatchSerializer}
    )
    def create(self, request, *args, **kwargs):
        shop = self.shop()
        data = s.AccountInviteRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = self.tenant.actor.label
        segment_id = data.validated_data.get("segment_id")
        try:
            if segment_id is not None:
                batch = account_invites_request_audience(
                    shop=shop, audience="segment", ref=segment_id, actor=actor
                )
            else:
                batch = account_invites_request(
                    shop=shop, customer_ids=data.validated_data["customer_ids"], actor=actor
                )
        except InvitesNotAvailable as refused:
            raise Conflict(str(refused), code="new_customer_accounts") from refused
        except UnknownAudience as unknown:
            raise ValidationError({"segment_id": [str(unknown)]}) from unknown
        except ValueError as invalid:
            raise DomainError(str(invalid), code="invalid_customers") from invalid
        return Response(s.AccountInviteBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: s.AccountInviteBatchSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, *args, **kwargs):
        """Queue the batch's pending invites again (after a worker died or a reinstall)."""
        batch = self.get_object()
        try:
            batch = account_invites_resume(
                shop=self.shop(), batch_id=batch.pk, actor=self.tenant.actor.label
            )
        except InvitesNotAvailable as refused:
            raise Conflict(str(refused), code="new_customer_accounts") from refused
        except ValueError as nothing_left:
            raise Conflict(str(nothing_left), code="nothing_pending") from nothing_left
        return Response(s.AccountInviteBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)


class AccountReportView(ShopNestedMixin, TenantScopedAPIView):
    """Share of the shop's customers with an enabled, invited or declined account."""

    @extend_schema(responses=s.AccountReportSerializer)
    def get(self, request, *args, **kwargs):
        return Response(s.AccountReportSerializer(account_report(shop=self.shop())).data)


class CustomerDataExportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet
):
    """Exports produced for customers/data_request. Personal data: agency admins only."""

    # Names the model only; requests read scoped_queryset() inside the tenant scope.
    queryset = CustomerDataExport.all_shops.none()
    cursor_ordering = ("-pk",)
    filterset_fields = ["shop", "customer_shopify_id"]
    action_permissions = {
        name: Permission.EXPORT_PERSONAL_DATA for name in ("list", "retrieve", "download")
    }

    def scoped_queryset(self):
        return CustomerDataExport.objects.all()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.CustomerDataExportDetailSerializer
        return s.CustomerDataExportSerializer

    @extend_schema(responses={(200, "application/json"): dict})
    @action(detail=True, methods=["get"])
    def download(self, request, *args, **kwargs):
        """The export as a JSON file; each download is audited."""
        export = self.get_object()
        audit_event_record(
            agency_id=self.tenant.agency.pk,
            shop_id=export.shop_id,
            event="customer.data_export_downloaded",
            target_type="customer_data_export",
            target_id=export.pk,
            data={"shopify_customer_id": export.customer_shopify_id},
            **self.tenant.actor.audit_kwargs(),
        )
        response = HttpResponse(
            json.dumps(export.payload, indent=2, sort_keys=True), content_type="application/json"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="customer-{export.customer_shopify_id}-export-{export.pk}.json"'
        )
        return response
