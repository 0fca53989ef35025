from django.urls import path

from tenants import views
from tenants.webhooks.views import shopify_webhook

urlpatterns = [
    path("", views.home, name="home"),
    path("shopify/install/", views.install_start, name="shopify-install"),
    path("shopify/callback/", views.oauth_callback, name="shopify-oauth-callback"),
    path("webhooks/shopify/", shopify_webhook, name="shopify-webhook"),
]
