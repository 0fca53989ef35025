"""The fail-closed base of every agency endpoint (see tenants/api/__init__.py for how to use it)."""

from contextlib import ExitStack

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from rest_framework import permissions, viewsets
from rest_framework.views import APIView

from tenants.api.context import TenantContext, tenant_of
from tenants.api.permissions import TenantPermission
from tenants.models import Agency, Shop
from tenants.roles import Permission
from tenants.scoping import shop_scope

# What a subclass must not redefine: together these guarantee authentication, the agency
# resolution, the permission check, the tenant scope and the queryset filter.
_SEALED = (
    "dispatch",
    "initial",
    "get_queryset",
    "filter_queryset",
    "get_object",
    "get_permissions",
    "check_permissions",
    "get_authenticators",
    "permission_classes",
    "authentication_classes",
    "required_permission",
    "tenant",
)


def _tenant_target(model, path: str):
    """The model at the end of `path` (e.g. "shop", "customer__shop", "agency")."""
    current = model
    for part in path.split("__"):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist as exc:
            raise ImproperlyConfigured(f"{model.__name__} has no field path '{path}'") from exc
        current = field.related_model
        if current is None:
            raise ImproperlyConfigured(f"'{path}' on {model.__name__} is not a relation")
    return current


class TenantScopedMixin:
    """Authenticates, resolves the agency, checks the role/key permission, enters the tenant
    scope for the whole request and limits every queryset to the agency's shops.
    """

    permission_classes = [permissions.IsAuthenticated, TenantPermission]
    # Extra permission classes a subclass needs, checked after the tenant ones.
    extra_permission_classes: tuple = ()
    # Action (or lower-case HTTP method for plain views) -> tenants.roles.Permission.
    action_permissions: dict[str, str] = {}
    # Path from the model to its Shop or Agency; None = "shop" (every ShopOwnedModel).
    tenant_field: str | None = None
    # Unique, immutable fields for the cursor; newest-first lists use ("-pk",).
    cursor_ordering: tuple[str, ...] = ("pk",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__
        base_position = mro.index(TenantScopedMixin)
        for name in _SEALED:
            # Whoever provides the name must be this base or sit behind it (DRF's classes),
            # so neither the subclass nor a mixin listed before the base can replace it.
            owner = next(klass for klass in mro if name in klass.__dict__)
            if mro.index(owner) < base_position:
                raise TypeError(
                    f"{cls.__qualname__} redefines {name} (in {owner.__qualname__}), which the "
                    "tenant-scoped base seals. "
                    "Use scoped_queryset()/action_permissions/extra_permission_classes, or "
                    "dangerously_get_queryset() when a view must see across tenants on purpose."
                )

    # -- the request life cycle (sealed) ---------------------------------------------------
    def dispatch(self, request, *args, **kwargs):
        self._tenant_scope = ExitStack()
        with self._tenant_scope:
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles
        self._tenant_scope.enter_context(shop_scope(self.tenant.shop_ids))

    def get_permissions(self):
        classes = [*self.permission_classes, *self.extra_permission_classes]
        return [permission() for permission in classes]

    @property
    def tenant(self) -> TenantContext:
        return tenant_of(self.request)

    def required_permission(self, request) -> str | None:
        method = request.method.lower()
        action = getattr(self, "action", None) or method
        routed = getattr(self, "action_map", None)
        if (method not in routed) if routed is not None else not hasattr(self, method):
            return Permission.READ  # no handler: the caller learns 405, nothing runs
        if action in self.action_permissions:
            return self.action_permissions[action]
        if request.method in permissions.SAFE_METHODS:
            return Permission.READ
        return None  # an unsafe action nobody declared: refused

    # -- querysets (sealed) -----------------------------------------------------------------
    def scoped_queryset(self):
        """Override to shape the queryset (select_related, annotations); it is filtered after.

        `queryset` may be a manager (`Customer.objects`): evaluated here, inside the scope.
        """
        if getattr(self, "queryset", None) is None:
            raise ImproperlyConfigured(f"{type(self).__name__} sets no queryset")
        return self.queryset.all()

    def get_queryset(self):
        dangerous = getattr(self, "dangerously_get_queryset", None)
        if dangerous is not None:
            return dangerous()
        return self._limit_to_tenant(self.scoped_queryset())

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if getattr(self, "dangerously_get_queryset", None) is not None:
            return queryset
        # Again after the filter backends, so no backend can widen what a request sees.
        return self._limit_to_tenant(queryset)

    def get_object(self):
        return super().get_object()

    def _limit_to_tenant(self, queryset):
        path = self.tenant_field or "shop"
        target = _tenant_target(queryset.model, path)
        if target is Shop:
            return queryset.filter(**{f"{path}__in": self.tenant.shop_ids})
        if target is Agency:
            return queryset.filter(**{path: self.tenant.agency.pk})
        raise ImproperlyConfigured(
            f"tenant_field '{path}' of {type(self).__name__} leads to {target.__name__}, "
            "not to Shop or Agency"
        )


class TenantScopedViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """Base of agency viewsets; add the DRF mixins (ListModelMixin, ...) you need."""


class TenantScopedAPIView(TenantScopedMixin, APIView):
    """Base of agency endpoints that are not about one model's rows."""

    def scoped_queryset(self):
        raise ImproperlyConfigured(f"{type(self).__name__} has no queryset")


class CallerAPIView(APIView):
    """Base of the few endpoints about the caller, outside any agency (e.g. /me/).

    Such a view must not return rows that belong to an agency other than the caller's own.
    """

    permission_classes = [permissions.IsAuthenticated]
