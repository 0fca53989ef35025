"""The demo's set-up: agency and logins, OAuth installs over HTTP, an API key that works."""

import pytest

from audit.services import audit_chain_verify
from tenants.demo import (
    DEMO_LOGINS,
    demo_agency_ensure,
    demo_api_key_create,
    demo_shops_install,
    demo_sync_done,
    demo_sync_progress,
)
from tenants.models import Membership, Shop
from tenants.oauth_driver import BrowserSession, site_login

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_agency_has_its_logins_and_is_created_once():
    agency = demo_agency_ensure()
    again = demo_agency_ensure()
    assert again.pk == agency.pk
    roles = dict(Membership.objects.filter(agency=agency).values_list("user__username", "role"))
    assert roles == {login.username: login.role for login in DEMO_LOGINS}
    for login in DEMO_LOGINS:
        membership = Membership.objects.get(agency=agency, user__username=login.username)
        assert membership.user.check_password(login.password)


def test_demo_installs_sandbox_stores_through_oauth(live_server, sandbox_server, settings):
    settings.APP_URL = live_server.url
    settings.SHOPIFY_BASE_URL = sandbox_server.base_url + "/store/{shop}"
    domains = sorted(sandbox_server.create_store().domain for _ in range(2))
    agency = demo_agency_ensure()

    shops = demo_shops_install(app_url=live_server.url, agency=agency, domains=domains)

    assert [shop.domain for shop in shops] == domains
    assert all(shop.is_installed and shop.agency_id == agency.pk for shop in shops)
    # Tests run tasks inline, so each first sync has already run when the install returns.
    progress = demo_sync_progress(shop_ids=[shop.pk for shop in shops])
    assert demo_sync_done(progress)
    assert all(line.startswith("succeeded") for line in progress.values()), progress
    api_key = demo_api_key_create(agency=agency)
    prefix, _, secret = api_key.partition(".")
    assert prefix and secret
    assert audit_chain_verify(agency_id=agency.pk) == (True, None)
    # The printed reviewer login works on the running site.
    reviewer = DEMO_LOGINS[1]
    session = BrowserSession()
    site_login(
        session, app_url=live_server.url, username=reviewer.username, password=reviewer.password
    )
    home = session.request(live_server.url + "/")
    assert all(domain in home.text for domain in domains)
    assert 'id="install-form"' not in home.text  # reviewers may not install
    assert Shop.objects.count() == 2
