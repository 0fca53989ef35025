"""Routes of the duplicate queue API, mounted under /api/v1/ by config/urls.py."""

from rest_framework.routers import SimpleRouter

from merges.api import views

router = SimpleRouter()
router.register("duplicates", views.DuplicateCandidateViewSet, basename="duplicate")

urlpatterns = router.urls
