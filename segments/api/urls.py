"""Routes of the segments API, mounted under /api/v1/ by config/urls.py."""

from rest_framework.routers import SimpleRouter

from segments.api import views

router = SimpleRouter()
router.register("segments", views.SegmentViewSet, basename="segment")
router.register("snapshots", views.SnapshotViewSet, basename="snapshot")
router.register("group-sets", views.GroupSetViewSet, basename="group-set")

urlpatterns = router.urls
