"""Root pytest configuration shared by every app's tests."""

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled

from customers import testing as mirror_guard

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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, plus an empty partition of every mirror table for a shop that never
    exists (customers.testing): a statement that does not name its shop then plans over at
    least two partitions, which the guard below sees."""
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                mirror_guard.sentinel_partitions_create(cursor)
    mirror_guard.guard_start()
    yield


@pytest.fixture(autouse=True)
def _mirror_writes_name_their_shop(request):
    """Fails a test whose code wrote or row-locked mirror rows without naming their shop."""
    with mirror_guard.guarded(request.node.nodeid) as found:
        yield
    if found:
        pytest.fail(mirror_guard.guard_failure(found), pytrace=False)
