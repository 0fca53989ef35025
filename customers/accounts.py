"""Customer accounts: invites to classic (legacy) accounts, and the per-shop account report.

Shops on new customer accounts have no invites (customers sign in with a one-time code), so a
request there is refused before anything is recorded. A batch records one AccountInvite per
customer: skipped ones with their reason at once, the others `pending` until the send task has
called Shopify. The task works through the pending rows in id order and commits each send with
its audit event, so a crashed or throttled batch resumes where it stopped: when Shopify stays
throttled or unreachable after the client's own retries, the batch waits (`queued`, with the
error) and a one-off schedule resumes it; a worker killed mid-batch is resumed through the API.

A segment is an audience another app resolves (customers.hooks.customer_audience): the caller
names it, the segments app answers its current members in the shop, and the mirror never
imports segments.
"""

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.services import SYSTEM, audit_event_record
from customers import hooks
from customers.models import AccountInvite, AccountInviteBatch, Customer, CustomerState
from customers.partitions import mirror_writes_wait
from tenants.models import Shop

logger = logging.getLogger(__name__)

# How long a batch waits after Shopify stayed throttled or unreachable through the retries.
RESUME_AFTER_SECONDS = 60


class InvitesNotAvailable(Exception):
    """The shop uses new customer accounts: Shopify has no account invites there."""


SKIP_REASONS = {
    "already_enabled": "the customer already has an account",
    "declined": "the customer declined an earlier invite",
    "no_email": "the customer has no email address",
    "not_active": "the customer was deleted, merged away or redacted",
}


def invite_skip_reason(customer: Customer) -> str:
    if not customer.is_active or customer.redacted_at is not None:
        return "not_active"
    if customer.state == CustomerState.ENABLED:
        return "already_enabled"
    if customer.state == CustomerState.DECLINED:
        return "declined"
    if not customer.email:
        return "no_email"
    return ""


def _refuse_new_accounts(shop: Shop) -> None:
    if shop.customer_accounts == Shop.AccountsVersion.NEW:
        raise InvitesNotAvailable(
            f"{shop.domain} uses new customer accounts, where customers sign in with a one-time "
            "code and Shopify sends no account invites. Nothing was sent."
        )


def account_invites_request(
    *, shop: Shop, customer_ids: Iterable[int], actor: str = SYSTEM, source: str = "customers"
) -> AccountInviteBatch:
    """Record a batch of invites for these customers (local ids) and queue the sending."""
    _refuse_new_accounts(shop)
    wanted = sorted(set(int(i) for i in customer_ids))
    if not wanted:
        raise ValueError("no customers to invite")
    customers = [
        customer
        # In slices: a segment may have hundreds of thousands of members (SQLite caps parameters).
        for start in range(0, len(wanted), 5000)
        for customer in Customer.all_shops.filter(shop=shop, id__in=wanted[start : start + 5000])
        .only("id", "state", "email", "deleted_at", "merged_into", "redacted_at")
        .order_by("id")
    ]
    unknown = sorted(set(wanted) - {c.id for c in customers})
    if unknown:
        raise ValueError(
            f"customers not in shop {shop.domain}: {', '.join(map(str, unknown[:20]))}"
        )
    with transaction.atomic():
        batch = AccountInviteBatch.all_shops.create(
            shop=shop, requested_by=actor[:64], source=source[:64]
        )
        invites = []
        for customer in customers:
            reason = invite_skip_reason(customer)
            invites.append(
                AccountInvite(
                    shop=shop,
                    batch=batch,
                    customer=customer,
                    status=AccountInvite.Status.SKIPPED if reason else AccountInvite.Status.PENDING,
                    skip_reason=reason,
                )
            )
        AccountInvite.all_shops.bulk_create(invites, batch_size=2000)
        skipped = {r: sum(1 for i in invites if i.skip_reason == r) for r in SKIP_REASONS}
        pending = sum(1 for i in invites if i.status == AccountInvite.Status.PENDING)
        if not pending:
            batch.status = AccountInviteBatch.Status.DONE
            batch.finished_at = timezone.now()
            batch.save(update_fields=["status", "finished_at"])
        _audit_batch(
            shop, batch, actor, "account_invite.requested",
            {"source": source, "pending": pending, "skipped": skipped},
        )  # fmt: skip
        if pending:
            transaction.on_commit(lambda: _enqueue(batch))
    return batch


def account_invites_request_audience(
    *, shop: Shop, audience: str, ref: int, actor: str = SYSTEM
) -> AccountInviteBatch:
    """Invite every customer of an audience (e.g. `segment` 12: its current members in this
    shop). Raises InvitesNotAvailable, hooks.UnknownAudience or ValueError; nothing recorded."""
    _refuse_new_accounts(shop)
    customer_ids = hooks.audience_customer_ids(
        kind=audience, shop_id=shop.id, agency_id=shop.agency_id, ref=ref
    )
    if not customer_ids:
        raise ValueError(f"{audience} {ref} has no members in {shop.domain}")
    return account_invites_request(
        shop=shop, customer_ids=customer_ids, actor=actor, source=f"{audience}:{ref}"
    )


def account_invites_resume(*, shop: Shop, batch_id: int, actor: str = SYSTEM) -> AccountInviteBatch:
    """Queue the sending again for a batch with pending invites (a worker died, a reinstall)."""
    _refuse_new_accounts(shop)
    with transaction.atomic():
        batch = AccountInviteBatch.all_shops.select_for_update().get(shop=shop, pk=batch_id)
        pending = batch.invites.filter(status=AccountInvite.Status.PENDING).count()
        if not pending:
            raise ValueError(f"invite batch {batch.pk} has nothing left to send")
        batch.status, batch.finished_at = AccountInviteBatch.Status.QUEUED, None
        batch.save(update_fields=["status", "finished_at"])
        _audit_batch(
            shop, batch, actor, "account_invite.resumed",
            {"pending": pending, "previous_error": batch.error[:200]},
        )  # fmt: skip
        transaction.on_commit(lambda: _enqueue(batch))
    return batch


def _enqueue(batch: AccountInviteBatch) -> None:
    from django_q.tasks import async_task

    from tenants.jobs import shop_job_group

    async_task(
        "customers.tasks.account_invites_send_task",
        batch.shop_id,
        batch.id,
        group=shop_job_group(batch.shop_id),
    )


def account_invites_send(*, shop: Shop, batch_id: int, actor: str = SYSTEM) -> AccountInviteBatch:
    """Send the batch's pending invites, one committed step each. Safe to call again.

    Shopify throttling or outages that outlast the client's retries pause the batch and
    schedule a resume; an auth or API error fails it (the pending invites stay for a resume).
    """
    from tenants.shopify.errors import ShopifyError, ShopifyThrottled, ShopifyTransportError

    _refuse_new_accounts(shop)
    batch = AccountInviteBatch.all_shops.get(shop=shop, pk=batch_id)
    AccountInviteBatch.all_shops.filter(pk=batch.pk).update(
        status=AccountInviteBatch.Status.RUNNING, error=""
    )
    batch.error = ""
    try:
        _send_pending(shop, batch, actor)
    except (ShopifyThrottled, ShopifyTransportError) as transient:
        return _pause(shop, batch, transient)
    except ShopifyError as broken:
        logger.warning("invite batch %s failed: %s", batch.pk, broken)
        batch.status, batch.error = AccountInviteBatch.Status.FAILED, str(broken)[:2000]
        batch.finished_at = timezone.now()
    else:
        batch.status, batch.finished_at = AccountInviteBatch.Status.DONE, timezone.now()
    AccountInviteBatch.all_shops.filter(pk=batch.pk).update(
        status=batch.status, finished_at=batch.finished_at, error=batch.error
    )
    return batch


def _pause(shop: Shop, batch: AccountInviteBatch, error: Exception) -> AccountInviteBatch:
    from django_q.models import Schedule

    from tenants.jobs import shop_schedule_name

    batch.status, batch.error = AccountInviteBatch.Status.QUEUED, f"waiting to resume: {error}"
    AccountInviteBatch.all_shops.filter(pk=batch.pk).update(
        status=batch.status, error=batch.error[:2000]
    )
    Schedule.objects.update_or_create(
        name=shop_schedule_name(shop.id, f"account-invites-{batch.pk}"),
        defaults={
            "func": "customers.tasks.account_invites_send_task",
            "args": f"{shop.id}, {batch.pk}",
            "schedule_type": Schedule.ONCE,
            "repeats": -1,  # deleted once it ran
            "next_run": timezone.now() + timedelta(seconds=RESUME_AFTER_SECONDS),
        },
    )
    logger.info("invite batch %s paused: %s", batch.pk, error)
    return batch


def _send_pending(shop: Shop, batch: AccountInviteBatch, actor: str) -> None:
    from tenants.shopify import operations
    from tenants.shopify.errors import ShopifyNotFound, ShopifyUserErrors

    pending = AccountInvite.all_shops.filter(
        shop=shop, batch=batch, status=AccountInvite.Status.PENDING
    )
    for invite_id in pending.order_by("id").values_list("id", flat=True):
        with transaction.atomic():
            mirror_writes_wait(shop_id=shop.id)  # it may write the customer's state
            invite = AccountInvite.all_shops.select_for_update().get(shop=shop, pk=invite_id)
            if invite.status != AccountInvite.Status.PENDING:
                continue  # another worker got here first
            # Read with its shop: by id alone it would read every shop's partition.
            invite.customer = Customer.all_shops.get(shop=shop, pk=invite.customer_id)
            reason = invite_skip_reason(invite.customer)  # the customer may have changed since
            if reason:
                invite.status, invite.skip_reason = AccountInvite.Status.SKIPPED, reason
                invite.save(update_fields=["status", "skip_reason"])
                continue
            try:
                state = operations.customer_send_account_invite(shop, invite.customer.gid)
            except (ShopifyUserErrors, ShopifyNotFound) as refused:
                invite.status, invite.error = AccountInvite.Status.FAILED, str(refused)[:2000]
                invite.save(update_fields=["status", "error"])
                _audit_send(shop, invite, actor, "account_invite.failed")
                continue
            invite.status, invite.sent_at = AccountInvite.Status.SENT, timezone.now()
            invite.save(update_fields=["status", "sent_at"])
            if state in CustomerState.values:
                Customer.all_shops.filter(shop=shop, pk=invite.customer_id).update(state=state)
            _audit_send(shop, invite, actor, "account_invite.sent")


def _audit(shop: Shop, actor: str, event: str, target: tuple[str, int], data: dict) -> None:
    audit_event_record(
        agency_id=shop.agency_id,
        shop_id=shop.id,
        event=event,
        actor=actor,
        target_type=target[0],
        target_id=target[1],
        data=data,
    )


def _audit_batch(shop: Shop, batch: AccountInviteBatch, actor: str, event: str, data: dict):
    _audit(shop, actor, event, ("account_invite_batch", batch.id), data)


def _audit_send(shop: Shop, invite: AccountInvite, actor: str, event: str) -> None:
    data = {"batch_id": invite.batch_id, "invite_id": invite.id}
    _audit(shop, actor, event, ("customer", invite.customer_id), data)


def account_report(*, shop: Shop) -> dict:
    """Account states of the shop's active customers, with the share of enabled accounts."""
    active = Customer.all_shops.filter(
        shop=shop, deleted_at=None, merged_into=None, redacted_at=None
    )
    counts = active.aggregate(
        total=Count("id"),
        **{state.lower(): Count("id", filter=Q(state=state)) for state in CustomerState.values},
    )
    total = counts["total"]
    return {
        "shop_id": shop.id,
        "customer_accounts": shop.customer_accounts or "unknown",
        "customers": total,
        **{state.lower(): counts[state.lower()] for state in CustomerState.values},
        "share_enabled": round(counts["enabled"] / total, 4) if total else 0.0,
        "share_invited": round(counts["invited"] / total, 4) if total else 0.0,
        "share_declined": round(counts["declined"] / total, 4) if total else 0.0,
    }
