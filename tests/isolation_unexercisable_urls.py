"""A test-only urlconf whose route carries an id the isolation walk has no builder for."""

from django.urls import include, path

from tenants.api.views import ShopViewSet

api_v1 = [
    path("widgets/<int:widget_pk>/shops/", ShopViewSet.as_view({"get": "list"})),
]

urlpatterns = [path("api/v1/", include(api_v1))]
