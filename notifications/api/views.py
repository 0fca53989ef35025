"""Outgoing webhook subscriptions and their deliveries. Thin: validate, call a service."""

from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from notifications import services
from notifications.api import serializers as s
from notifications.models import WebhookDelivery, WebhookSubscription
from tenants.api.base import TenantScopedViewSet
from tenants.api.pagination import CursorPagination
from tenants.roles import Permission


class WebhookSubscriptionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """POST answers the signing `secret` once; GET .../deliveries/ lists what was sent."""

    queryset = WebhookSubscription.objects
    serializer_class = s.SubscriptionSerializer
    tenant_field = "agency"
    cursor_ordering = ("-pk",)
    action_permissions = {
        "create": Permission.EDIT_SEGMENTS,
        "destroy": Permission.EDIT_SEGMENTS,
        "pause": Permission.EDIT_SEGMENTS,
        "resume": Permission.EDIT_SEGMENTS,
        "rotate_secret": Permission.EDIT_SEGMENTS,
    }

    def scoped_queryset(self):
        return WebhookSubscription.objects.prefetch_related("targets__group_set")

    def create(self, request, *args, **kwargs):
        body = s.SubscriptionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            created = services.webhook_subscription_create(
                agency=self.tenant.agency,
                url=data["url"],
                description=data["description"],
                segment_ids=data["segments"],
                group_set_ids=data["group_sets"],
                groups=data["groups"],
                kinds=data["kinds"],
                actor=self.tenant.actor,
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        answer = s.SubscriptionCreatedSerializer(created.subscription).data
        return Response({**answer, "secret": created.secret}, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.webhook_subscription_delete(
            agency=self.tenant.agency, subscription_id=instance.pk, actor=self.tenant.actor
        )

    @action(detail=True, methods=["post"])
    def pause(self, request, *args, **kwargs):
        """Stop sending until resumed; what happens meanwhile is sent on resume."""
        subscription = services.webhook_subscription_pause(
            agency=self.tenant.agency, subscription_id=self.get_object().pk, actor=self.tenant.actor
        )
        return Response(self.get_serializer(subscription).data)

    @action(detail=True, methods=["post"])
    def resume(self, request, *args, **kwargs):
        subscription = services.webhook_subscription_resume(
            agency=self.tenant.agency, subscription_id=self.get_object().pk, actor=self.tenant.actor
        )
        return Response(self.get_serializer(subscription).data)

    @action(
        detail=True,
        methods=["post"],
        url_path="rotate-secret",
        serializer_class=s.SecretRotateSerializer,
    )
    def rotate_secret(self, request, *args, **kwargs):
        """A new secret, answered once; the old one also signs for `grace_hours` (default 24)."""
        subscription = self.get_object()
        body = s.SecretRotateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rotated = services.webhook_subscription_secret_rotate(
            agency=self.tenant.agency,
            subscription_id=subscription.pk,
            grace=timedelta(hours=body.validated_data["grace_hours"]),
            actor=self.tenant.actor,
        )
        answer = s.SubscriptionCreatedSerializer(rotated.subscription).data
        return Response({**answer, "secret": rotated.secret})

    @action(detail=True, methods=["get"], serializer_class=s.DeliverySerializer)
    def deliveries(self, request, *args, **kwargs):
        """Newest first: status, attempts, last response code and error. `?status=failed`."""
        subscription = self.get_object()
        rows = WebhookDelivery.objects.filter(subscription=subscription)
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in WebhookDelivery.Status.values:
                raise ValidationError(
                    {"status": [f"One of {', '.join(WebhookDelivery.Status.values)}."]}
                )
            rows = rows.filter(status=wanted)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(s.DeliverySerializer(page, many=True).data)
