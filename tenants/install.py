"""OAuth install (and reinstall) of a shop into an agency.

Shopify calls happen before any database write, so a failed install stores nothing; the rows and
the audit event are then written in one transaction, and the first sync is queued on commit.
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_event_record
from tenants.actors import SYSTEM_ACTOR, Actor
from tenants.models import Agency, Shop
from tenants.oauth import missing_scopes
from tenants.roles import Permission, role_has

logger = logging.getLogger(__name__)


def webhook_topics() -> list[str]:
    """Every routed topic that can be subscribed per shop (privacy topics are app-wide)."""
    from tenants.webhooks.routing import routed_topics
    from tenants.webhooks.services import PRIVACY_TOPICS

    return [topic for topic in routed_topics() if topic not in PRIVACY_TOPICS]


class InstallRejected(Exception):
    """An install cannot go on; `message` is shown to the person installing, `reason` is a code."""

    def __init__(self, message: str, *, reason: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.status = status


def shop_base_url_for(domain: str) -> str:
    """Where a shop's endpoints answer: SHOPIFY_BASE_URL with `{shop}` filled in."""
    return settings.SHOPIFY_BASE_URL.format(shop=domain).rstrip("/")


def oauth_redirect_uri() -> str:
    return settings.APP_URL + reverse("shopify-oauth-callback")


def webhook_callback_url() -> str:
    return settings.APP_URL + reverse("shopify-webhook")


def install_authorize_url(*, shop_domain: str, state: str) -> str:
    """Shopify's consent page for this shop, asking for an offline token with our scopes."""
    query = urlencode(
        {
            "client_id": settings.SHOPIFY_API_KEY,
            "scope": ",".join(settings.SHOPIFY_SCOPES),
            "redirect_uri": oauth_redirect_uri(),
            "state": state,
        }
    )
    return f"{shop_base_url_for(shop_domain)}/admin/oauth/authorize?{query}"


def agencies_user_may_install(user) -> list[Agency]:
    """The agencies in which this user holds the install_shops permission."""
    memberships = user.memberships.select_related("agency").order_by("agency__name")
    return [m.agency for m in memberships if role_has(m.role, Permission.INSTALL_SHOPS)]


def install_permission_check(*, user, agency_id: int) -> Agency:
    for agency in agencies_user_may_install(user):
        if agency.pk == agency_id:
            return agency
    raise InstallRejected(
        "You may not install shops for this agency (an owner or admin can).",
        reason="permission",
        status=403,
    )


def install_owner_check(*, agency: Agency, shop_domain: str) -> None:
    """Refuse a shop another agency holds: its data belongs to that agency until erased."""
    other = Shop.objects.filter(domain=shop_domain).exclude(agency=agency).first()
    if other is not None:
        raise InstallRejected(
            f"{shop_domain} is already connected to another agency. It can join this agency "
            "only after that agency's connection is removed and its data erased.",
            reason="other_agency",
            status=409,
        )


@dataclass(frozen=True)
class InstallOutcome:
    shop: Shop
    reinstalled: bool


def _shop_grant_fetch(*, agency: Agency, shop_domain: str, code: str) -> tuple[Shop, list[str]]:
    """Exchange the code and read the shop over HTTP; returns an UNSAVED Shop and its scopes."""
    from tenants.shopify import operations
    from tenants.shopify.errors import ShopifyError

    base_url = shop_base_url_for(shop_domain)
    try:
        grant = operations.oauth_exchange_code(base_url=base_url, code=code)
    except ShopifyError as exc:
        raise InstallRejected(
            f"Shopify refused to exchange the authorization code: {exc}", reason="code_exchange"
        ) from exc
    scopes = (
        sorted({s.strip() for s in grant.scopes.split(",") if s.strip()})
        if isinstance(grant.scopes, str)
        else sorted(set(grant.scopes))
    )
    missing = missing_scopes(requested=settings.SHOPIFY_SCOPES, granted=scopes)
    if missing:
        raise InstallRejected(
            f"The store granted fewer permissions than Clientele needs; missing: {', '.join(missing)}."
            " Install again and accept all requested permissions.",
            reason="scope_downgrade",
        )
    candidate = Shop(
        agency=agency,
        domain=shop_domain,
        access_token=grant.access_token,
        scopes=scopes,
        api_version=settings.SHOPIFY_API_VERSION,
        api_base_url=base_url,
    )
    try:
        info = operations.shop_info(candidate)
        operations.webhooks_subscribe(candidate, webhook_topics(), webhook_callback_url())
    except ShopifyError as exc:
        raise InstallRejected(
            f"Shopify did not answer as expected: {exc}", reason="shopify"
        ) from exc
    candidate.name = info.name
    candidate.currency = info.currency
    candidate.timezone = info.iana_timezone
    candidate.country_code = info.country_code
    candidate.customer_accounts = info.customer_accounts
    return candidate, scopes


def shop_install_complete(
    *, agency: Agency, shop_domain: str, code: str, actor: Actor
) -> InstallOutcome:
    """Finish an OAuth install whose callback has been verified; raises InstallRejected."""
    install_owner_check(agency=agency, shop_domain=shop_domain)
    candidate, scopes = _shop_grant_fetch(agency=agency, shop_domain=shop_domain, code=code)
    fields = {
        "access_token": candidate.access_token,
        "scopes": scopes,
        "api_version": candidate.api_version,
        "api_base_url": candidate.api_base_url,
        "status": Shop.Status.INSTALLED,
        "installed_at": timezone.now(),
        "uninstalled_at": None,
        "name": candidate.name,
        "currency": candidate.currency,
        "timezone": candidate.timezone,
        "country_code": candidate.country_code,
        "customer_accounts": candidate.customer_accounts,
    }
    with transaction.atomic():
        shop = Shop.objects.select_for_update().filter(domain=shop_domain).first()
        if shop is not None and shop.agency_id != agency.pk:
            install_owner_check(agency=agency, shop_domain=shop_domain)  # raced: raises
        reinstalled = shop is not None
        if shop is None:
            shop = Shop(agency=agency, domain=shop_domain)
        for name, value in fields.items():
            setattr(shop, name, value)
        shop.full_clean()
        shop.save()
        audit_event_record(
            agency_id=agency.pk,
            event="shop.installed",
            shop_id=shop.pk,
            target_type="shop",
            target_id=shop.pk,
            data={"domain": shop.domain, "scopes": scopes, "reinstall": reinstalled},
            **actor.audit_kwargs(),
        )
        shop_id = shop.pk
        # robust: the install stands even if queueing fails; a sync can be requested again later.
        transaction.on_commit(
            lambda: shop_first_sync_queue(shop_id=shop_id, actor=actor), robust=True
        )
    return InstallOutcome(shop=shop, reinstalled=reinstalled)


def shop_first_sync_queue(*, shop_id: int, actor: Actor = SYSTEM_ACTOR) -> None:
    """Ask the customer mirror for the shop's first full sync (it records and queues it)."""
    # Imported here: the mirror builds on tenants, not the other way round.
    from customers.models import SyncRun
    from customers.sync import sync_run_request

    shop = Shop.objects.get(pk=shop_id)
    sync_run_request(shop=shop, kind=SyncRun.Kind.FULL, actor=actor.label)


def install_rejection_record(
    *, agency_id: int, shop_domain: str, reason: str, actor: Actor
) -> None:
    """Audit a rejected callback for an agency (the only row a rejection writes)."""
    audit_event_record(
        agency_id=agency_id,
        event="shop.install_rejected",
        target_type="shop_domain",
        target_id=shop_domain[:64],
        data={"reason": reason},
        **actor.audit_kwargs(),
    )
