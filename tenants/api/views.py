"""The tenants endpoints: the caller, shops, members and API keys. Thin: services do the work."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tenants.api import serializers as s
from tenants.api.base import CallerAPIView, TenantScopedViewSet
from tenants.api.context import API_KEY_SCOPE_PERMISSIONS
from tenants.models import ApiKey, Membership, Shop
from tenants.roles import Permission
from tenants.selectors import agencies_of_user, role_permissions
from tenants.services import (
    api_key_create,
    api_key_revoke,
    membership_invite,
    membership_remove,
    membership_role_change,
    shop_sync_request,
)
from tenants.shop_lifecycle import shop_uninstall


class MeView(CallerAPIView):
    """The caller (a user or an API key) and the agencies it may act for."""

    @extend_schema(responses=s.MeSerializer)
    def get(self, request, *args, **kwargs):
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        if api_key is not None:
            agencies = [
                {
                    "agency": api_key.agency,
                    "role": None,
                    "permissions": sorted(API_KEY_SCOPE_PERMISSIONS[api_key.scope]),
                }
            ]
            body = {
                "kind": "api_key",
                "user": None,
                "api_key": {"prefix": api_key.prefix, "name": api_key.name, "scope": api_key.scope},
            }
        else:
            user = request.user
            agencies = [
                {
                    "agency": m.agency,
                    "role": m.role,
                    "permissions": sorted(role_permissions(role=m.role)),
                }
                for m in agencies_of_user(user=user)
            ]
            body = {
                "kind": "user",
                "user": {"id": user.pk, "username": user.get_username(), "email": user.email},
                "api_key": None,
            }
        body["agencies"] = s.AgencyMembershipSerializer(agencies, many=True).data
        return Response(body)


class ShopViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The agency's shops (installed and uninstalled)."""

    queryset = Shop.objects.all()
    serializer_class = s.ShopSerializer
    tenant_field = "agency"
    filterset_fields = ["status"]
    action_permissions = {
        "sync": Permission.INSTALL_SHOPS,
        "uninstall": Permission.INSTALL_SHOPS,
    }

    @extend_schema(request=s.ShopSyncRequestSerializer, responses={202: s.ShopSyncSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request, *args, **kwargs):
        """Queue a sync of the shop's customers and orders (full by default, or a delta)."""
        shop = self.get_object()
        data = s.ShopSyncRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = shop_sync_request(
            shop=shop, kind=data.validated_data["kind"], actor=self.tenant.actor
        )
        body = {"shop": shop.pk, "sync_run": run.pk, "kind": run.kind, "status": run.status}
        return Response(s.ShopSyncSerializer(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=s.ShopSerializer)
    @action(detail=True, methods=["post"])
    def uninstall(self, request, *args, **kwargs):
        """Stop using the shop: its token is dropped and its jobs stop; its data stays until
        Shopify's shop/redact. Remove the app in the store's admin as well. Idempotent."""
        shop = shop_uninstall(shop=self.get_object(), actor_label=self.tenant.actor.label)
        return Response(s.ShopSerializer(shop).data)


class MemberViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    TenantScopedViewSet,
):
    """The agency's members and their roles (owners and admins only)."""

    queryset = Membership.objects.select_related("user")
    serializer_class = s.MemberSerializer
    tenant_field = "agency"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_permissions = {
        action_name: Permission.MANAGE_MEMBERS
        for action_name in ("list", "retrieve", "create", "partial_update", "destroy")
    }

    @extend_schema(request=s.MemberCreateSerializer, responses={201: s.InvitationCreatedSerializer})
    def create(self, request, *args, **kwargs):
        """Invite someone by email; they join once they accept the returned link."""
        data = s.MemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, accept_path = membership_invite(
            agency=self.tenant.agency,
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            actor=self.tenant.actor,
        )
        body = {
            "detail": "Invitation recorded; the member joins when they accept the link.",
            "email": invitation.email,
            "role": invitation.role,
            "expires_at": invitation.expires_at,
            "accept_url": request.build_absolute_uri(accept_path),
        }
        return Response(s.InvitationCreatedSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MemberRoleSerializer, responses=s.MemberSerializer)
    def partial_update(self, request, *args, **kwargs):
        membership = self.get_object()
        data = s.MemberRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = membership_role_change(
            membership=membership, role=data.validated_data["role"], actor=self.tenant.actor
        )
        return Response(s.MemberSerializer(membership).data)

    def destroy(self, request, *args, **kwargs):
        membership_remove(membership=self.get_object(), actor=self.tenant.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The agency's API keys. The whole key is shown once, in the answer to its creation."""

    queryset = ApiKey.objects.all()
    serializer_class = s.ApiKeySerializer
    tenant_field = "agency"
    cursor_ordering = ("-pk",)
    action_permissions = {
        action_name: Permission.MANAGE_API_KEYS
        for action_name in ("list", "retrieve", "create", "revoke")
    }

    @extend_schema(request=s.ApiKeyCreateSerializer, responses={201: s.ApiKeyCreatedSerializer})
    def create(self, request, *args, **kwargs):
        data = s.ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        api_key, plain_key = api_key_create(
            agency=self.tenant.agency, actor=self.tenant.actor, **data.validated_data
        )
        body = s.ApiKeySerializer(api_key).data
        body["key"] = plain_key
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, *args, **kwargs):
        """Revoke the key at once (revoking twice changes nothing)."""
        api_key = api_key_revoke(api_key=self.get_object(), actor=self.tenant.actor)
        return Response(s.ApiKeySerializer(api_key).data)
