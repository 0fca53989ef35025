"""Permission checks from the role map (tenants/roles.py) and the API key's scope."""

from rest_framework import permissions

from tenants.api.context import tenant_of
from tenants.models import ApiKey
from tenants.roles import Permission


class TenantPermission(permissions.BasePermission):
    """Allows an action when the caller's agency context grants the permission the view asks for.

    The view names a permission per action in `action_permissions`; safe methods default to
    READ; an unsafe method without a declared permission is refused (fail-closed).
    """

    message = "You may not do this."

    def has_permission(self, request, view) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False
        tenant = tenant_of(request)  # raises 404/400/403 when no agency resolves
        needed = view.required_permission(request)
        if needed is None:
            self.message = "This action is not available."
            return False
        if tenant.has(needed):
            return True
        if tenant.api_key is not None:
            if tenant.api_key.scope == ApiKey.Scope.READ and needed != Permission.READ:
                self.message = "This API key is read-only."
            else:
                self.message = f"API keys may not {Permission(needed).label.lower()}."
        else:
            self.message = f"Your role ({tenant.role}) may not {Permission(needed).label.lower()}."
        return False
