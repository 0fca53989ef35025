"""Reads for agencies, members, shops and API keys."""

from dataclasses import dataclass

from django.db.models import QuerySet

from tenants.models import Agency, ApiKey, Membership, Shop
from tenants.roles import ROLE_PERMISSIONS, Permission, role_has


def agencies_of_user(*, user) -> QuerySet[Membership]:
    """The user's memberships with their agencies, by agency name."""
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related("agency").order_by("agency__name")


def membership_of(*, user, agency: Agency) -> Membership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.filter(user=user, agency=agency).first()


def role_permissions(*, role: str | None) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset()) if role else frozenset()


def shops_visible_to(*, agency: Agency) -> list[int]:
    """Ids of every shop the agency holds (installed or not: data stays until shop/redact)."""
    return list(Shop.objects.filter(agency=agency).order_by("pk").values_list("pk", flat=True))


def shop_list(*, agency: Agency) -> QuerySet[Shop]:
    return Shop.objects.filter(agency=agency)


def member_list(*, agency: Agency) -> QuerySet[Membership]:
    return Membership.objects.filter(agency=agency).select_related("user")


def api_key_list(*, agency: Agency) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(agency=agency)


@dataclass(frozen=True)
class AgencyOverview:
    agency: Agency
    role: str
    may_install: bool
    shops: list[Shop]


def home_agencies(*, user) -> list[AgencyOverview]:
    """The user's agencies with their role and the agency's shops, for the home page."""
    memberships = list(user.memberships.select_related("agency").order_by("agency__name"))
    shops_by_agency: dict[int, list[Shop]] = {}
    for shop in Shop.objects.filter(agency__in=[m.agency_id for m in memberships]).order_by(
        "domain"
    ):
        shops_by_agency.setdefault(shop.agency_id, []).append(shop)
    return [
        AgencyOverview(
            agency=m.agency,
            role=m.get_role_display(),
            may_install=role_has(m.role, Permission.INSTALL_SHOPS),
            shops=shops_by_agency.get(m.agency_id, []),
        )
        for m in memberships
    ]
