"""The duplicate queue: candidates across the caller's shops, their waterfall, dismissals.
Thin: the tenant base scopes, the serializers shape, merges.services decides."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from merges.api import serializers as s
from merges.api.filters import DuplicateCandidateFilter
from merges.models import DuplicateCandidate
from merges.services import duplicate_dismiss
from tenants.api.base import TenantScopedViewSet
from tenants.roles import Permission


class DuplicateCandidateViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet
):
    """Proposed groups of customer profiles of one person, strongest first."""

    queryset = (
        DuplicateCandidate.all_shops.none()
    )  # names the model; requests use scoped_queryset()
    filterset_class = DuplicateCandidateFilter
    # Probability is written once per candidate (a re-scan replaces rows), so it can lead a cursor.
    cursor_ordering = ("-probability", "-pk")
    action_permissions = {"dismiss": Permission.REQUEST_MERGES}

    def scoped_queryset(self):
        return DuplicateCandidate.objects.all()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.DuplicateCandidateDetailSerializer
        return s.DuplicateCandidateSerializer

    @extend_schema(request=s.DismissSerializer, responses={200: s.DuplicateCandidateSerializer})
    @action(detail=True, methods=["post"])
    def dismiss(self, request, *args, **kwargs):
        """Not duplicates: its pairs are not proposed again until a side's matching fields change.
        Needs a reason; only open candidates (409 `not_open` otherwise)."""
        candidate = self.get_object()
        body = s.DismissSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        candidate = duplicate_dismiss(
            candidate=candidate, reason=body.validated_data["reason"], actor=self.tenant.actor
        )
        return Response(s.DuplicateCandidateSerializer(candidate).data)
