"""Routes of the tenants API, mounted under /api/v1/ by config/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants.api import views

router = SimpleRouter()
router.register("shops", views.ShopViewSet, basename="shop")
router.register("members", views.MemberViewSet, basename="member")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")

urlpatterns = [path("me/", views.MeView.as_view(), name="me"), *router.urls]
