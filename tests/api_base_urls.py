"""A test-only urlconf exercising the API base on a shop-owned model and its error mapping."""

from django.urls import include, path
from rest_framework import mixins, serializers
from rest_framework.routers import SimpleRouter

from customers.models import Customer
from tenants.api.base import CallerAPIView, TenantScopedViewSet
from tenants.errors import Conflict
from tenants.models import Shop


class CustomerRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "shop", "first_name"]


class CustomerRowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    # The manager itself, not .all(): the fail-closed manager raises outside a scope, and the
    # class body runs at import time.
    queryset = Customer.objects
    serializer_class = CustomerRowSerializer
    filterset_fields = ["shop"]


class UnscopedQueryView(CallerAPIView):
    def get(self, request, *args, **kwargs):
        return Customer.objects.count()  # outside any tenant scope: ScopeError


class MissingRowView(CallerAPIView):
    def get(self, request, *args, **kwargs):
        return Shop.objects.get(pk=0)


class ConflictView(CallerAPIView):
    def get(self, request, *args, **kwargs):
        raise Conflict("It clashes with the current state.", code="clash")


class CrashView(CallerAPIView):
    def get(self, request, *args, **kwargs):
        raise RuntimeError("boom")


router = SimpleRouter()
router.register("customers", CustomerRowViewSet, basename="customer-row")

api_v1 = [
    path("unscoped/", UnscopedQueryView.as_view()),
    path("missing/", MissingRowView.as_view()),
    path("conflict/", ConflictView.as_view()),
    path("crash/", CrashView.as_view()),
    *router.urls,
]

urlpatterns = [path("api/v1/", include(api_v1))]
