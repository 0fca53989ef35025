"""Root pytest configuration shared by every app's tests."""

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled

# The Shopify sandbox fixtures: sandbox_server (session), sandbox_store (per test).
pytest_plugins = ["sandbox.testing"]


@pytest.fixture
def unscoped():
    """For test set-up that must read across tenants on purpose."""
    with scopes_disabled():
        yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle buckets and other cached state never leak from one test into the next."""
    cache.clear()
    yield
    cache.clear()
