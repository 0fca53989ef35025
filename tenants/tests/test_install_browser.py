"""A person installs a shop from the home page in real headless Chromium."""

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

from tenants.models import Shop
from tenants.roles import Role
from tenants.tests.factories import agency_factory, membership_factory, user_factory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code, so Django's async guard is lifted for it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            browser.close()
            # ORM calls made inside Playwright's loop opened their own connection; close it so
            # the test database can be dropped.
            connections.close_all()


def test_log_in_install_a_shop_and_see_it_listed(
    live_server, sandbox_server, settings, browser_page
):
    settings.APP_URL = live_server.url
    settings.SHOPIFY_BASE_URL = sandbox_server.base_url + "/store/{shop}"
    store = sandbox_server.create_store()
    # The store asks the merchant to approve, as Shopify does.
    status, _ = sandbox_server.control(
        "PATCH", f"/_sandbox/stores/{store.domain}", {"config": {"autoApprove": False}}
    )
    assert status == 200
    agency = agency_factory(name="Browser Agency")
    user = user_factory(username="installer", password="pw-for-tests-1")
    membership_factory(agency=agency, user=user, role=Role.OWNER)

    page = browser_page
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "installer")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Browser Agency")
    assert page.locator("text=No shops yet.").is_visible()

    # A bad domain first: refused with a clear message, nothing stored.
    page.fill("#id_shop", "not a shop")
    page.click("#install-form button[type=submit]")
    assert "is not a shop domain" in page.locator("#install-error").inner_text()
    assert not Shop.objects.exists()
    page.goto(live_server.url + "/")

    page.fill("#id_shop", store.domain)
    page.click("#install-form button[type=submit]")
    page.wait_for_selector("#approve")  # the store's consent page
    assert "write_customers" in page.locator("#scopes").inner_text()
    page.click("#approve")

    row = page.locator(f"tr[data-shop='{store.domain}']")
    row.wait_for()
    assert page.url == live_server.url + "/"
    assert "Installed" in row.inner_text()
    assert store.domain in page.locator("[role=status]").inner_text()
    shop = Shop.objects.get(domain=store.domain)
    assert shop.agency == agency and shop.is_installed
