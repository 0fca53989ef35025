"""Pages: the home page with its install form, and Shopify's OAuth install and callback.

The callback checks, before anything else: the state nonce (single use, bound to this session),
the query HMAC, the shop domain, the timestamp's freshness and that the callback is not a replay.
Every refusal renders a page naming what went wrong and stores nothing (apart from an audit
event once the agency is known).
"""

import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from tenants.actors import Actor
from tenants.forms import InstallForm
from tenants.install import (
    InstallRejected,
    install_authorize_url,
    install_owner_check,
    install_permission_check,
    install_rejection_record,
    shop_install_complete,
)
from tenants.models import validate_shop_domain
from tenants.oauth import (
    CALLBACK_MAX_AGE,
    new_state_nonce,
    query_hmac_valid,
    querydict_params,
    timestamp_fresh,
)
from tenants.selectors import home_agencies

logger = logging.getLogger(__name__)

SESSION_KEY = "shopify_oauth_pending"
MAX_PENDING = 5


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    form = InstallForm(user=request.user)
    return render(
        request, "home.html", {"agencies": home_agencies(user=request.user), "form": form}
    )


def _refuse(request: HttpRequest, error: InstallRejected, *, shop_domain: str = "") -> HttpResponse:
    logger.info("shopify install refused (%s): %s", error.reason, error.message)
    context = {"message": error.message, "reason": error.reason, "shop_domain": shop_domain}
    return render(request, "tenants/install_refused.html", context, status=error.status)


@login_required
@require_GET
def install_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the shop's consent page, remembering a nonce in this session."""
    form = InstallForm(request.GET, user=request.user)
    if not form.is_valid():
        messages = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        return _refuse(request, InstallRejected(messages, reason="invalid_input"))
    shop_domain, agency = form.cleaned_data["shop"], form.cleaned_data["agency"]
    try:
        install_owner_check(agency=agency, shop_domain=shop_domain)
    except InstallRejected as error:
        return _refuse(request, error, shop_domain=shop_domain)
    nonce = new_state_nonce()
    pending = dict(request.session.get(SESSION_KEY) or {})
    pending[nonce] = {"shop": shop_domain, "agency_id": agency.pk, "at": int(time.time())}
    # Keep only the newest few so an abandoned flow does not grow the session forever.
    pending = dict(sorted(pending.items(), key=lambda item: item[1]["at"])[-MAX_PENDING:])
    request.session[SESSION_KEY] = pending
    return HttpResponseRedirect(install_authorize_url(shop_domain=shop_domain, state=nonce))


def _pending_install_pop(request: HttpRequest) -> dict:
    """The pending install named by the callback's state, removed from the session (single use)."""
    state = request.GET.get("state", "")
    pending_all = dict(request.session.get(SESSION_KEY) or {})
    pending = pending_all.pop(state, None) if state else None
    request.session[SESSION_KEY] = pending_all  # single use, whatever happens next
    if pending is None or not request.user.is_authenticated:
        raise InstallRejected(
            "This install link is not valid for your session (wrong, reused or expired state)."
            " Start the install again from Clientele.",
            reason="state",
        )
    return pending


def _callback_verify(request: HttpRequest, pending: dict) -> None:
    """Signature, shop, freshness and replay checks; raises InstallRejected on any doubt."""
    params = querydict_params(request.GET)
    if not query_hmac_valid(params, secret=settings.SHOPIFY_API_SECRET):
        raise InstallRejected("The callback's signature (hmac) is invalid.", reason="hmac")
    shop_domain = request.GET.get("shop", "")
    try:
        validate_shop_domain(shop_domain)
    except ValidationError as exc:
        raise InstallRejected(exc.messages[0], reason="shop_domain") from exc
    if shop_domain != pending["shop"]:
        raise InstallRejected(
            f"The callback is for {shop_domain}, but you started installing {pending['shop']}.",
            reason="shop_domain",
        )
    if not timestamp_fresh(request.GET.get("timestamp")):
        raise InstallRejected(
            "The callback's timestamp is missing or too old. Start the install again.",
            reason="timestamp",
        )
    replay_key = f"shopify-oauth-callback:{params['hmac']}"
    if not cache.add(replay_key, 1, timeout=int(CALLBACK_MAX_AGE.total_seconds()) * 2):
        raise InstallRejected("This callback has already been used.", reason="replay")
    if not request.GET.get("code"):
        raise InstallRejected("The callback carries no authorization code.", reason="code_missing")


@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    shop_domain = request.GET.get("shop", "")[:255]
    agency_id = None
    actor = Actor(user=request.user if request.user.is_authenticated else None)
    try:
        pending = _pending_install_pop(request)
        agency_id = pending["agency_id"]
        _callback_verify(request, pending)
        agency = install_permission_check(user=request.user, agency_id=agency_id)
        outcome = shop_install_complete(
            agency=agency, shop_domain=shop_domain, code=request.GET["code"], actor=actor
        )
    except InstallRejected as error:
        if agency_id is not None:
            install_rejection_record(
                agency_id=agency_id, shop_domain=shop_domain, reason=error.reason, actor=actor
            )
        return _refuse(request, error, shop_domain=shop_domain)
    except Exception:
        logger.exception("shopify install of %s failed unexpectedly", shop_domain)
        error = InstallRejected(
            "The install failed on our side; nothing was saved. Please try again.",
            reason="internal",
            status=502,
        )
        if agency_id is not None:
            install_rejection_record(
                agency_id=agency_id, shop_domain=shop_domain, reason=error.reason, actor=actor
            )
        return _refuse(request, error, shop_domain=shop_domain)
    shop = outcome.shop
    verb = "reinstalled" if outcome.reinstalled else "installed"
    messages.success(
        request, f"{shop.name or shop.domain} ({shop.domain}) {verb}; its first sync was requested."
    )
    return HttpResponseRedirect(reverse("home"))
