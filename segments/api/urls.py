"""Routes of the segments API, mounted under /api/v1/ by config/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from segments.api import views

router = SimpleRouter()
router.register("segments", views.SegmentViewSet, basename="segment")
router.register("snapshots", views.SnapshotViewSet, basename="snapshot")
router.register("group-sets", views.GroupSetViewSet, basename="group-set")
router.register("agency-templates", views.AgencyTemplateViewSet, basename="agency-template")

urlpatterns = [
    path("segment-templates/", views.SegmentTemplatesView.as_view(), name="segment-templates"),
    *router.urls,
]
