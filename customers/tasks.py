"""django-q2 entry points: take ids, enter the shop's scope, call a service."""

import logging

from customers import outbox, sync
from tenants.models import Shop
from tenants.scoping import shop_scope

logger = logging.getLogger(__name__)


def _installed(shop_id: int) -> bool:
    """Tasks queued before an uninstall must not touch the shop afterwards."""
    if Shop.objects.filter(pk=shop_id, status=Shop.Status.INSTALLED).exists():
        return True
    logger.info("shop %s is not installed; sync task skipped", shop_id)
    return False


def _skipped(shop_id: int, sync_run_id: int | None, busy: Exception) -> None:
    if sync_run_id is not None:
        sync.sync_run_skip(
            shop_id=shop_id,
            sync_run_id=sync_run_id,
            reason=f"Not run: {busy}; that sync brings the mirror up to date.",
        )


def shop_full_sync_task(shop_id: int, sync_run_id: int | None = None) -> int:
    if not _installed(shop_id):
        return 0
    with shop_scope([shop_id]):
        try:
            return sync.shop_full_sync(shop_id=shop_id, sync_run_id=sync_run_id).id
        except sync.SyncAlreadyRunning as busy:
            if sync_run_id is not None and not sync.full_sync_running(shop_id=shop_id):
                logger.info("%s (a delta); full sync %s tried again later", busy, sync_run_id)
                sync.sync_run_retry_later(shop_id=shop_id, sync_run_id=sync_run_id)
                return 0
            logger.info("%s; this request is left for it", busy)
            _skipped(shop_id, sync_run_id, busy)
            return 0
        except sync.ShopErasedDuringSync as erased:  # nothing to retry: the shop is gone
            logger.info("%s", erased)
            return 0


def shop_delta_sync_task(shop_id: int, sync_run_id: int | None = None) -> int:
    if not _installed(shop_id):
        return 0
    with shop_scope([shop_id]):
        # The scheduled heal also delivers webhook changes whose drain task was lost. A hook
        # that fails keeps them in the outbox (retried by the sweep); the delta still runs.
        try:
            outbox.mirror_changes_drain(shop_id=shop_id)
        except Exception:
            logger.exception("shop %s: outbox drain failed before the delta sync", shop_id)
        try:
            return sync.shop_delta_sync(shop_id=shop_id, sync_run_id=sync_run_id).id
        except sync.SyncAlreadyRunning as busy:
            logger.info("%s; skipping this delta", busy)
            _skipped(shop_id, sync_run_id, busy)
            return 0


def mirror_changes_drain_task(shop_id: int, reason: str = "webhook") -> int:
    """One per shop at a time (customers.outbox): the batched mirror_changed hooks call."""
    if not _installed(shop_id):
        return 0
    with shop_scope([shop_id]):
        return outbox.mirror_changes_drain(shop_id=shop_id, reason=reason)


def mirror_changes_sweep_task() -> int:
    """Every minute (customers.schedules): re-queue the drains lost with a worker."""
    return len(outbox.mirror_changes_sweep())


def sync_tables_janitor_task() -> int:
    """Every hour (customers.schedules): drop the tables of full syncs that nothing runs any
    more (customers.sync_tables); how many runs' tables went."""
    from datetime import timedelta

    from django.conf import settings

    from customers.sync_tables import sync_tables_janitor

    hours = settings.FULL_SYNC_ABANDONED_AFTER_HOURS
    return len(sync_tables_janitor(abandoned_after=timedelta(hours=hours)))


def delta_sync_all_shops() -> int:
    """The scheduled heal: queue a delta for every installed shop (see migration 0004)."""
    from django_q.tasks import async_task

    from tenants.jobs import shop_job_group

    shops = Shop.objects.filter(status=Shop.Status.INSTALLED).exclude(access_token="")
    count = 0
    for shop_id in shops.values_list("id", flat=True):
        async_task("customers.tasks.shop_delta_sync_task", shop_id, group=shop_job_group(shop_id))
        count += 1
    return count


def account_invites_send_task(shop_id: int, batch_id: int) -> int:
    from customers.accounts import account_invites_send

    if not _installed(shop_id):
        return 0
    with shop_scope([shop_id]):
        shop = Shop.objects.get(pk=shop_id)
        return account_invites_send(shop=shop, batch_id=batch_id).id
