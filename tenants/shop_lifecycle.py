"""The end of a shop's life in Clientele: uninstall (token dropped, data kept), then erasure."""

from django.db import transaction
from django.utils import timezone

from audit.services import SHOPIFY, audit_event_record
from tenants.jobs import shop_jobs_stop
from tenants.models import Shop
from tenants.shop_erasure import shop_rows_delete


@transaction.atomic
def shop_uninstall(*, shop: Shop, actor_label: str = SHOPIFY) -> Shop:
    """The app was removed from the store: forget the token, stop the jobs, keep the data.

    The data stays until Shopify's `shop/redact` (48 hours later) asks for its erasure.
    Uninstalling an uninstalled shop changes nothing.
    """
    shop = Shop.objects.select_for_update().get(pk=shop.pk)
    if shop.status == Shop.Status.UNINSTALLED and not shop.access_token:
        return shop
    shop.status = Shop.Status.UNINSTALLED
    shop.access_token = ""
    shop.uninstalled_at = timezone.now()
    shop.save(update_fields=["status", "access_token", "uninstalled_at"])
    stopped = shop_jobs_stop(shop_id=shop.pk)
    audit_event_record(
        agency_id=shop.agency_id,
        event="shop.uninstalled",
        actor=actor_label,
        shop_id=shop.pk,
        target_type="shop",
        target_id=shop.pk,
        data={"domain": shop.domain, **stopped},
    )
    return shop


@transaction.atomic
def shop_redact(*, shop: Shop, actor_label: str = SHOPIFY) -> dict[str, int]:
    """Erase the shop and every row it owns: one DELETE per table, children first, in this
    transaction (tenants.shop_erasure; Django's cascade loaded every row's id first).

    The audit log keeps its events (they hold `shop_id` as a plain number), so the chain still
    verifies. A shop that was installed again since it was uninstalled is not erased.
    """
    shop = Shop.objects.select_for_update().get(pk=shop.pk)
    if shop.status == Shop.Status.INSTALLED:
        audit_event_record(
            agency_id=shop.agency_id,
            event="shop.redact_skipped",
            actor=actor_label,
            shop_id=shop.pk,
            target_type="shop",
            target_id=shop.pk,
            data={"domain": shop.domain},
        )
        return {}
    shop_jobs_stop(shop_id=shop.pk)
    agency_id, shop_id, domain = shop.agency_id, shop.pk, shop.domain
    deleted = shop_rows_delete(shop_id=shop_id)
    audit_event_record(
        agency_id=agency_id,
        event="shop.redacted",
        actor=actor_label,
        shop_id=shop_id,
        target_type="shop",
        target_id=shop_id,
        data={"domain": domain, "deleted": deleted},
    )
    return deleted
