"""The API docs page and the admin, in real headless Chromium."""

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

from tenants.models import ApiKey
from tenants.tests.factories import agency_factory

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are
    # still plain synchronous code, so Django's async-safety guard is relaxed for the test.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()
            # ORM calls made while Playwright's loop runs get their own connection: close it.
            connections.close_all()


def test_swagger_ui_renders_the_schema_from_local_assets_only(live_server, page, tmp_path):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20000)
    assert "Clientele API" in page.inner_text(".swagger-ui .info .title")
    # The operations from the schema are on the page.
    page.wait_for_selector("text=/api/v1/shops/{id}/sync/")
    assert page.locator(".opblock").count() >= 10
    page.screenshot(path=str(tmp_path / "api-docs.png"))
    foreign = [url for url in requested if not url.startswith(live_server.url)]
    assert not foreign, f"the docs page fetched from outside: {foreign}"


def test_admin_issues_an_api_key_and_shows_it_once(live_server, page, django_user_model):
    django_user_model.objects.create_superuser("operator", "op@example.com", "pw-operator-1")
    agency = agency_factory(name="Browser Agency")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "pw-operator-1")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/tenants/apikey/add/")
    page.select_option("#id_agency", str(agency.pk))
    page.fill("#id_name", "nightly export")
    page.select_option("#id_scope", "read")
    page.click("input[name=_save]")
    message = page.inner_text(".messagelist")
    api_key = ApiKey.objects.get(agency=agency, name="nightly export")
    assert f"The key is {api_key.prefix}." in message and "not shown again" in message
    plain = message.split("The key is ")[1].split(" ")[0]
    # The key works against the API, and the change page never shows it again.
    response = page.request.get(
        f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Bearer {plain}"}
    )
    assert response.status == 200 and response.json()["api_key"]["prefix"] == api_key.prefix
    page.goto(f"{live_server.url}/admin/tenants/apikey/{api_key.pk}/change/")
    html = page.content()
    assert plain not in html and api_key.secret_hash not in html
    assert "nightly export" in html
