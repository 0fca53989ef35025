"""Writes the Shopify client triggers on the shop it serves."""

from django.db import transaction

from audit.services import SHOPIFY, audit_event_record
from tenants.models import Shop


@transaction.atomic
def shop_auth_revoked_mark(*, shop_id: int, rejected_token: str, status: int) -> bool:
    """Shopify answered 401/403 to this token: drop it so the shop shows as needing a reinstall.

    Only the token that was rejected is dropped: if a reinstall stored a new one meanwhile, the
    shop is left alone. Returns whether the shop was changed.
    """
    shop = Shop.objects.select_for_update().filter(pk=shop_id).first()
    if shop is None or not shop.access_token or shop.access_token != rejected_token:
        return False
    shop.access_token = ""
    shop.save(update_fields=["access_token"])
    audit_event_record(
        agency_id=shop.agency_id,
        shop_id=shop.pk,
        event="shop.auth_revoked",
        actor=SHOPIFY,
        target_type="shop",
        target_id=shop.pk,
        data={"http_status": status},
    )
    return True
