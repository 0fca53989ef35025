from django.urls import path

from tenants import views
from tenants.invitation_views import invitation_accept_page
from tenants.webhooks.views import shopify_webhook

urlpatterns = [
    path("", views.home, name="home"),
    path("shopify/install/", views.install_start, name="shopify-install"),
    path("shopify/callback/", views.oauth_callback, name="shopify-oauth-callback"),
    path("invitations/<str:token>/accept/", invitation_accept_page, name="invitation-accept"),
    path("webhooks/shopify/", shopify_webhook, name="shopify-webhook"),
]
