"""Who is calling and for which agency: resolved once per request, fail-closed.

Resolution rules (documented for API users in the OpenAPI description):
- API key: the key's agency. Naming another agency (header or query) answers 404.
- Session user: the agency named by the `X-Agency` header or the `agency` query parameter
  (its slug) when the user is a member of it, otherwise 404; with neither, the user's only
  agency; a user in several agencies who names none gets 400 `agency_required`; a user in
  none gets 403 `no_agency`.
"""

from dataclasses import dataclass

from rest_framework import status
from rest_framework.exceptions import APIException, NotAuthenticated, NotFound, PermissionDenied

from tenants.actors import Actor
from tenants.models import Agency, ApiKey
from tenants.roles import Permission
from tenants.selectors import agencies_of_user, role_permissions, shops_visible_to

AGENCY_HEADER = "X-Agency"
AGENCY_QUERY_PARAM = "agency"

# What a key may do, whatever its creator's role. Keys never manage members or keys, never
# approve merges (four-eyes is for people) and never download personal-data exports.
API_KEY_SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    ApiKey.Scope.READ: frozenset({Permission.READ}),
    ApiKey.Scope.WRITE: frozenset(
        {
            Permission.READ,
            Permission.INSTALL_SHOPS,
            Permission.EDIT_SEGMENTS,
            Permission.REQUEST_MERGES,
        }
    ),
}


class AgencyRequired(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "agency_required"
    default_detail = (
        f"You belong to several agencies; name one with the {AGENCY_HEADER} header "
        f"or the ?{AGENCY_QUERY_PARAM}=<slug> query parameter."
    )


@dataclass(frozen=True)
class TenantContext:
    agency: Agency
    user: object | None
    api_key: ApiKey | None
    role: str | None
    permissions: frozenset[str]
    shop_ids: tuple[int, ...]

    @property
    def actor(self) -> Actor:
        return Actor(user=self.user, api_key=self.api_key)

    def has(self, permission: str) -> bool:
        return permission in self.permissions


def _requested_agency_slug(request) -> str | None:
    value = request.headers.get(AGENCY_HEADER) or request.query_params.get(AGENCY_QUERY_PARAM)
    return value.strip() if value and value.strip() else None


def _agency_not_found() -> NotFound:
    return NotFound(
        f"The agency named by {AGENCY_HEADER} / ?{AGENCY_QUERY_PARAM}= is not one of yours.",
        code="agency_not_found",
    )


def _resolve(request) -> TenantContext:
    requested = _requested_agency_slug(request)
    api_key = request.auth if isinstance(request.auth, ApiKey) else None
    if api_key is not None:
        if requested is not None and requested != api_key.agency.slug:
            raise _agency_not_found()
        agency = api_key.agency
        return TenantContext(
            agency=agency,
            user=None,
            api_key=api_key,
            role=None,
            permissions=API_KEY_SCOPE_PERMISSIONS.get(api_key.scope, frozenset()),
            shop_ids=tuple(shops_visible_to(agency=agency)),
        )
    user = request.user
    if not getattr(user, "is_authenticated", False):
        raise NotAuthenticated()
    memberships = agencies_of_user(user=user)
    if requested is not None:
        membership = memberships.filter(agency__slug=requested).first()
        if membership is None:
            raise _agency_not_found()
    else:
        candidates = list(memberships[:2])
        if not candidates:
            raise PermissionDenied("You are not a member of any agency.", code="no_agency")
        if len(candidates) > 1:
            raise AgencyRequired()
        membership = candidates[0]
    return TenantContext(
        agency=membership.agency,
        user=user,
        api_key=None,
        role=membership.role,
        permissions=role_permissions(role=membership.role),
        shop_ids=tuple(shops_visible_to(agency=membership.agency)),
    )


def tenant_of(request) -> TenantContext:
    """The caller's agency context, resolved on first use and kept for the request."""
    context = getattr(request, "_tenant_context", None)
    if context is None:
        context = _resolve(request)
        request._tenant_context = context
    return context
