"""Customer accounts: invites to classic (legacy) accounts, and the per-shop account report.

Shops on new customer accounts have no invites (customers sign in with a one-time code), so a
request there is refused before anything is recorded. A batch records one AccountInvite per
customer: skipped ones with their reason at once, the others `pending` until the send task has
called Shopify. The task works through the pending rows in id order and commits each send with
its audit event, so a crashed or throttled batch resumes where it stopped.
"""

import logging
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.services import SYSTEM, audit_event_record
from customers.models import AccountInvite, AccountInviteBatch, Customer, CustomerState
from tenants.models import Shop

logger = logging.getLogger(__name__)


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
    customers = list(Customer.all_shops.filter(shop=shop, id__in=wanted).order_by("id"))
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
        audit_event_record(
            agency_id=shop.agency_id,
            shop_id=shop.id,
            event="account_invite.requested",
            actor=actor,
            target_type="account_invite_batch",
            target_id=batch.id,
            data={"source": source, "pending": pending, "skipped": skipped},
        )
        if pending:
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
    """Send the batch's pending invites, one committed step each. Safe to call again."""
    from tenants.shopify import operations
    from tenants.shopify.errors import ShopifyUserErrors

    _refuse_new_accounts(shop)
    batch = AccountInviteBatch.all_shops.get(shop=shop, pk=batch_id)
    AccountInviteBatch.all_shops.filter(pk=batch.pk).update(
        status=AccountInviteBatch.Status.RUNNING
    )
    pending = AccountInvite.all_shops.filter(
        shop=shop, batch=batch, status=AccountInvite.Status.PENDING
    )
    for invite_id in pending.order_by("id").values_list("id", flat=True):
        with transaction.atomic():
            invite = (
                AccountInvite.all_shops.select_for_update()
                .select_related("customer")
                .get(pk=invite_id)
            )
            if invite.status != AccountInvite.Status.PENDING:
                continue  # another worker got here first
            reason = invite_skip_reason(invite.customer)  # the customer may have changed since
            if reason:
                invite.status, invite.skip_reason = AccountInvite.Status.SKIPPED, reason
                invite.save(update_fields=["status", "skip_reason"])
                continue
            try:
                state = operations.customer_send_account_invite(shop, invite.customer.gid)
            except ShopifyUserErrors as refused:
                invite.status, invite.error = AccountInvite.Status.FAILED, str(refused)[:2000]
                invite.save(update_fields=["status", "error"])
                _audit_send(shop, invite, actor, "account_invite.failed")
                continue
            invite.status, invite.sent_at = AccountInvite.Status.SENT, timezone.now()
            invite.save(update_fields=["status", "sent_at"])
            if state in CustomerState.values:
                Customer.all_shops.filter(pk=invite.customer_id).update(state=state)
            _audit_send(shop, invite, actor, "account_invite.sent")
    batch.status, batch.finished_at = AccountInviteBatch.Status.DONE, timezone.now()
    AccountInviteBatch.all_shops.filter(pk=batch.pk).update(
        status=batch.status, finished_at=batch.finished_at
    )
    return batch


def _audit_send(shop: Shop, invite: AccountInvite, actor: str, event: str) -> None:
    audit_event_record(
        agency_id=shop.agency_id,
        shop_id=shop.id,
        event=event,
        actor=actor,
        target_type="customer",
        target_id=invite.customer_id,
        data={"batch_id": invite.batch_id, "invite_id": invite.id},
    )


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
