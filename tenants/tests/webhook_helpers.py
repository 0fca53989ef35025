"""Sending signed webhook deliveries to our endpoint, as Shopify does."""

import json
import uuid

from django.conf import settings

from tenants.oauth import body_hmac


def webhook_post(
    client,
    *,
    shop_domain: str,
    topic: str,
    payload=None,
    raw: bytes | None = None,
    webhook_id: str | None = None,
    secret: str | None = None,
    hmac_header: str | None = None,
    **extra_headers,
):
    body = raw if raw is not None else json.dumps(payload or {}).encode()
    signature = hmac_header
    if signature is None:
        signature = body_hmac(body, secret=secret or settings.SHOPIFY_API_SECRET)
    headers = {
        "HTTP_X_SHOPIFY_TOPIC": topic,
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": shop_domain,
        "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id or str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_EVENT_ID": str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_TRIGGERED_AT": "2026-01-05T10:00:00.000000Z",
        "HTTP_X_SHOPIFY_API_VERSION": "2025-01",
        **extra_headers,
    }
    if signature:
        headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = signature
    return client.post("/webhooks/shopify/", data=body, content_type="application/json", **headers)
