from django.urls import path

from tenants.webhooks.views import shopify_webhook

urlpatterns = [
    path("webhooks/shopify/", shopify_webhook, name="shopify-webhook"),
]
