from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# Every app's API routes, mounted under /api/v1/. Add one include per app.
api_v1_patterns = [
    path("", include("tenants.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("segments.api.urls")),
    path("", include("merges.api.urls")),
    path("", include("notifications.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("tenants.urls")),
    path("", include("merges.urls")),
    path("api/v1/", include(api_v1_patterns)),
    path("api/schema/", SpectacularAPIView.as_view(api_version="v1"), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
