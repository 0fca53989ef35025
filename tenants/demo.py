"""The demo's set-up steps (used by `manage.py demo` and its test); never used in production.
Its child processes (sandbox, web server, worker) are tenants.demo_children.

The demo agency, its people and its API key are created through the same services as real ones,
and the sandbox stores are installed through the real OAuth flow over HTTP.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from tenants.actors import SYSTEM_ACTOR
from tenants.models import Agency, Membership, Shop
from tenants.oauth_driver import (
    BrowserSession,
    refusal_message,
    shop_install_over_http,
    site_login,
)
from tenants.roles import Role

DEMO_AGENCY_SLUG = "demo-agency"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


DEMO_LOGINS = (
    DemoLogin("owner", "demo-owner-pass", Role.OWNER),
    DemoLogin("reviewer", "demo-reviewer-pass", Role.REVIEWER),
)


@transaction.atomic
def demo_agency_ensure() -> Agency:
    """The demo agency with its owner and reviewer (created once; passwords reset each run)."""
    from tenants.services import agency_create, membership_add

    agency = Agency.objects.filter(slug=DEMO_AGENCY_SLUG).first()
    if agency is None:
        agency = agency_create(name="Demo Agency", slug=DEMO_AGENCY_SLUG, actor=SYSTEM_ACTOR)
    user_model = get_user_model()
    for login in DEMO_LOGINS:
        user, _ = user_model.objects.get_or_create(
            username=login.username, defaults={"email": f"{login.username}@demo.invalid"}
        )
        user.set_password(login.password)
        user.save()
        if not Membership.objects.filter(agency=agency, user=user).exists():
            membership_add(agency=agency, user=user, role=login.role, actor=SYSTEM_ACTOR)
    return agency


def demo_shops_install(*, app_url: str, agency: Agency, domains: list[str]) -> list[Shop]:
    """Install each store through the running site's OAuth flow, logged in as the demo owner."""
    owner = DEMO_LOGINS[0]
    session = BrowserSession()
    site_login(session, app_url=app_url, username=owner.username, password=owner.password)
    for domain in domains:
        answer = shop_install_over_http(
            session, app_url=app_url, shop_domain=domain, agency_id=agency.pk
        )
        if answer.status != 302:
            raise RuntimeError(
                f"installing {domain} failed (HTTP {answer.status}): {refusal_message(answer)}"
            )
    return list(Shop.objects.filter(domain__in=domains).order_by("domain"))


def demo_api_key_create(*, agency: Agency) -> str:
    from tenants.models import ApiKey
    from tenants.services import api_key_create

    _, plain = api_key_create(
        agency=agency, name="demo", scope=ApiKey.Scope.WRITE, actor=SYSTEM_ACTOR
    )
    return plain


def demo_sync_progress(*, shop_ids: list[int]) -> dict[int, str]:
    """Each shop's latest full sync as one line of text, e.g. 'running customers 2500/5000'."""
    from customers.models import SyncRun

    lines = {}
    for shop_id in shop_ids:
        runs = SyncRun.all_shops.filter(shop_id=shop_id, kind=SyncRun.Kind.FULL)
        run = runs.order_by("-created_at", "-id").first()
        if run is None:
            lines[shop_id] = "not requested"
            continue
        progress = f" {run.progress_done}/{run.progress_total}" if run.progress_total else ""
        error = f": {run.error[:200]}" if run.error else ""
        lines[shop_id] = f"{run.status} {run.phase}{progress}{error}".replace("  ", " ").strip()
    return lines


def demo_sync_done(lines: dict[int, str]) -> bool:
    return all(line.startswith(("succeeded", "failed")) for line in lines.values())
