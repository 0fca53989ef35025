"""Tenant scoping, fail-closed: a query on a shop-owned model outside a scope raises ScopeError.

Requests, API keys and tasks enter `shop_scope(shop_ids)` once; everything below that only ever
sees those shops. `Model.all_shops` is the explicit escape hatch for admin, migrations and
commands that work across tenants on purpose.
"""

from collections.abc import Iterable

from django.db import models
from django_scopes import ScopedManager, scope, scopes_disabled

__all__ = ["ShopOwnedModel", "scopes_disabled", "shop_scope"]


def shop_scope(shop_ids: Iterable[int]):
    """Context manager limiting every scoped query to these shops."""
    return scope(shop=list(shop_ids))


class ShopOwnedModel(models.Model):
    """Base of every row that belongs to a store: it carries shop_id and is scoped by it."""

    shop = models.ForeignKey("tenants.Shop", on_delete=models.CASCADE, related_name="+")

    objects = ScopedManager(shop="shop")
    all_shops = models.Manager()

    class Meta:
        abstract = True
        default_manager_name = "all_shops"
        base_manager_name = "all_shops"
