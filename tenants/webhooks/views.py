"""POST /webhooks/shopify/: verify the HMAC on the raw body, store the delivery once, answer 200."""

import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tenants.oauth import body_hmac_valid
from tenants.webhooks.services import WebhookHeaders, webhook_delivery_receive

logger = logging.getLogger(__name__)


def _header(request: HttpRequest, name: str) -> str:
    # Django's header lookup is case-insensitive; the Events system drops the "X-" prefix.
    return (request.headers.get(f"X-{name}") or request.headers.get(name) or "").strip()


def _holds_nul(value) -> bool:
    """True when a string (or key) anywhere in the payload has U+0000, which jsonb refuses."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest) -> HttpResponse:
    raw = request.body
    secrets = [settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_PREVIOUS]
    if not body_hmac_valid(raw, _header(request, "Shopify-Hmac-Sha256"), secrets=secrets):
        logger.warning("webhook rejected: missing or invalid HMAC")
        return _error(401, "X-Shopify-Hmac-Sha256 is missing or does not match the body.")
    headers = WebhookHeaders(
        shop_domain=_header(request, "Shopify-Shop-Domain"),
        topic=_header(request, "Shopify-Topic"),
        webhook_id=_header(request, "Shopify-Webhook-Id"),
        event_id=_header(request, "Shopify-Event-Id"),
        triggered_at=_header(request, "Shopify-Triggered-At"),
        api_version=_header(request, "Shopify-API-Version"),
    )
    missing = [
        f"X-Shopify-{name}"
        for name, value in (
            ("Shop-Domain", headers.shop_domain),
            ("Topic", headers.topic),
            ("Webhook-Id", headers.webhook_id),
        )
        if not value
    ]
    if missing:
        return _error(400, f"Missing header(s): {', '.join(missing)}.")
    if len(headers.webhook_id) > 100 or len(headers.topic) > 100 or len(headers.event_id) > 100:
        return _error(
            400, "X-Shopify-Webhook-Id, -Topic and -Event-Id must be at most 100 characters."
        )
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _error(400, f"The body is not valid JSON: {exc}.")
    if _holds_nul(payload):
        return _error(400, "The body holds a NUL character (\\u0000), which cannot be stored.")
    delivery, created = webhook_delivery_receive(headers=headers, payload=payload)
    if delivery is None:
        return JsonResponse({"status": "ignored"})
    return JsonResponse({"status": "received" if created else "duplicate"})
