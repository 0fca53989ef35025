"""A test-only urlconf with deliberately unscoped endpoints: the isolation walk must flag them."""

from django.urls import include, path
from rest_framework import mixins, serializers
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from tenants.api.base import TenantScopedViewSet
from tenants.models import Shop


class LeakyShopSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shop
        fields = ["id", "domain"]


class LeakyShopViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Looks scoped, but opts out through the dangerous escape hatch."""

    queryset = Shop.objects.all()
    serializer_class = LeakyShopSerializer

    def dangerously_get_queryset(self):
        return Shop.objects.all()


class PlainShopCountView(APIView):
    """Bypasses the base entirely."""

    def get(self, request, *args, **kwargs):
        return Response({"domains": list(Shop.objects.values_list("domain", flat=True))})


router = SimpleRouter()
router.register("leaky-shops", LeakyShopViewSet, basename="leaky-shop")

api_v1 = [path("shop-domains/", PlainShopCountView.as_view()), *router.urls]

urlpatterns = [path("api/v1/", include(api_v1))]
