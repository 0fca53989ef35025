"""Routes of the customer mirror API, mounted under /api/v1/ by config/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from customers.api import views

router = SimpleRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register(
    "customer-data-exports", views.CustomerDataExportViewSet, basename="customer-data-export"
)
router.register(
    r"shops/(?P<shop_pk>[^/.]+)/sync-runs", views.SyncRunViewSet, basename="shop-sync-run"
)
router.register(
    r"shops/(?P<shop_pk>[^/.]+)/account-invites",
    views.AccountInviteBatchViewSet,
    basename="shop-account-invite",
)

urlpatterns = [
    path(
        "shops/<str:shop_pk>/account-report/",
        views.AccountReportView.as_view(),
        name="shop-account-report",
    ),
    *router.urls,
]
