"""Routes of outgoing webhooks, mounted under /api/v1/ by config/urls.py."""

from rest_framework.routers import SimpleRouter

from notifications.api import views

router = SimpleRouter()
router.register(
    "webhook-subscriptions", views.WebhookSubscriptionViewSet, basename="webhook-subscription"
)

urlpatterns = router.urls
