"""The install start and every callback refusal that happens before Shopify is contacted."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from audit.models import AuditEvent
from tenants.models import Shop
from tenants.oauth import signed_query
from tenants.roles import Role
from tenants.tests.factories import agency_factory, membership_factory, shop_factory, user_factory

pytestmark = pytest.mark.django_db

DOMAIN = "new-store.myshopify.com"


@pytest.fixture
def admin_client(client):
    agency = agency_factory(name="Acme Agency")
    user = user_factory()
    membership_factory(agency=agency, user=user, role=Role.ADMIN)
    client.force_login(user)
    client.agency = agency
    return client


def start(client, shop=DOMAIN, **extra):
    response = client.get("/shopify/install/", {"shop": shop, **extra})
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    return response["Location"], query["state"][0]


def callback(client, *, state, shop=DOMAIN, timestamp=None, secret=None, tamper=None, **extra):
    params = {
        "code": "abc123",
        "shop": shop,
        "state": state,
        "timestamp": str(timestamp if timestamp is not None else int(time.time())),
        **extra,
    }
    query = signed_query(params, secret=secret or settings.SHOPIFY_API_SECRET)
    if tamper:
        query = query.replace(*tamper)
    return client.get(f"/shopify/callback/?{query}")


def assert_refused(response, reason, status=400):
    assert response.status_code == status
    assert f'data-reason="{reason}"' in response.content.decode()
    assert "Nothing was saved." in response.content.decode()
    assert not Shop.objects.exists()


def test_install_redirects_to_the_shops_authorize_url(admin_client, settings):
    settings.SHOPIFY_BASE_URL = "http://127.0.0.1:9999/store/{shop}"
    location, state = start(admin_client)
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"http://127.0.0.1:9999/store/{DOMAIN}/admin/oauth/authorize"
    )
    query = parse_qs(parts.query)
    assert query["client_id"] == [settings.SHOPIFY_API_KEY]
    assert query["scope"] == [",".join(settings.SHOPIFY_SCOPES)]
    assert query["redirect_uri"] == [settings.APP_URL + "/shopify/callback/"]
    assert len(state) >= 32
    assert state in admin_client.session["shopify_oauth_pending"]
    _, second = start(admin_client)
    assert second != state


def test_install_normalises_a_pasted_url(admin_client):
    location, _ = start(admin_client, shop=" https://New-Store.myshopify.com/ ")
    assert f"/{DOMAIN}/admin/oauth/authorize" in location or DOMAIN in location


@pytest.mark.parametrize(
    "bad", ["", "evil.com", "new_store.myshopify.com", "a.myshopify.com.evil.io"]
)
def test_install_refuses_a_bad_shop_domain(admin_client, bad):
    response = admin_client.get("/shopify/install/", {"shop": bad})
    assert_refused(response, "invalid_input")
    assert "shopify_oauth_pending" not in admin_client.session


def test_install_needs_login(client):
    response = client.get("/shopify/install/", {"shop": DOMAIN})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_install_refused_for_a_reviewer(client):
    agency = agency_factory()
    user = user_factory()
    membership_factory(agency=agency, user=user, role=Role.REVIEWER)
    client.force_login(user)
    response = client.get("/shopify/install/", {"shop": DOMAIN, "agency": agency.pk})
    assert_refused(response, "invalid_input")
    assert "agency" in response.content.decode()


def test_install_refused_for_another_agencys_agency_id(admin_client):
    foreign = agency_factory()
    response = admin_client.get("/shopify/install/", {"shop": DOMAIN, "agency": foreign.pk})
    assert_refused(response, "invalid_input")


def test_install_refused_when_another_agency_holds_the_shop(admin_client):
    shop_factory(agency=agency_factory(), domain=DOMAIN)
    response = admin_client.get("/shopify/install/", {"shop": DOMAIN})
    assert response.status_code == 409
    assert "already connected to another agency" in response.content.decode()


def test_callback_with_wrong_state_is_refused(admin_client):
    start(admin_client)
    assert_refused(callback(admin_client, state="guessed"), "state")


def test_callback_with_missing_state_is_refused(admin_client):
    start(admin_client)
    assert_refused(callback(admin_client, state=""), "state")


def test_callback_state_from_another_session_is_refused(admin_client, client):
    _, state = start(admin_client)
    other_user = user_factory()
    membership_factory(agency=admin_client.agency, user=other_user, role=Role.ADMIN)
    client.force_login(other_user)
    assert_refused(callback(client, state=state), "state")


def test_callback_with_tampered_hmac_is_refused_and_audited(admin_client):
    _, state = start(admin_client)
    response = callback(admin_client, state=state, tamper=("code=abc123", "code=abc124"))
    assert_refused(response, "hmac")
    event = AuditEvent.objects.get(event="shop.install_rejected")
    assert (event.agency_id, event.data) == (admin_client.agency.pk, {"reason": "hmac"})


def test_callback_signed_with_another_secret_is_refused(admin_client):
    _, state = start(admin_client)
    assert_refused(callback(admin_client, state=state, secret="not-the-app-secret"), "hmac")


def test_callback_state_is_single_use(admin_client):
    _, state = start(admin_client)
    assert_refused(callback(admin_client, state=state, secret="wrong"), "hmac")
    # Even a correct second try with the same state is refused: the nonce was spent.
    assert_refused(callback(admin_client, state=state), "state")


def test_callback_with_a_bad_shop_domain_is_refused(admin_client):
    _, state = start(admin_client)
    assert_refused(callback(admin_client, state=state, shop="evil.example.com"), "shop_domain")


def test_callback_for_a_different_shop_than_started_is_refused(admin_client):
    _, state = start(admin_client)
    response = callback(admin_client, state=state, shop="other-store.myshopify.com")
    assert_refused(response, "shop_domain")
    assert "you started installing new-store.myshopify.com" in response.content.decode()


@pytest.mark.parametrize("age", [6 * 60, 24 * 3600])
def test_callback_with_an_old_timestamp_is_refused(admin_client, age):
    _, state = start(admin_client)
    response = callback(admin_client, state=state, timestamp=int(time.time()) - age)
    assert_refused(response, "timestamp")


def test_callback_without_timestamp_is_refused(admin_client):
    _, state = start(admin_client)
    assert_refused(callback(admin_client, state=state, timestamp=""), "timestamp")


def test_replayed_callback_is_refused_even_if_the_session_is_rolled_back(admin_client):
    _, state = start(admin_client)
    pending = admin_client.session["shopify_oauth_pending"]
    stamp = int(time.time())
    # The first use fails after the signature checks (no code), spending state and signature.
    assert_refused(callback(admin_client, state=state, timestamp=stamp, code=""), "code_missing")
    # An attacker restores the old session (e.g. a copied cookie) and presents the same URL.
    session = admin_client.session
    session["shopify_oauth_pending"] = pending
    session.save()
    response = callback(admin_client, state=state, timestamp=stamp, code="")
    assert_refused(response, "replay")


def test_refusals_never_answer_500(admin_client):
    start(admin_client)
    for query in ["", "?state=x", "?hmac=zz&state=", "?shop=%00&timestamp=-1&hmac=&state=a"]:
        response = admin_client.get(f"/shopify/callback/{query}")
        assert response.status_code == 400
    assert not Shop.objects.exists()


def test_home_lists_agencies_shops_and_the_install_form(admin_client):
    shop_factory(agency=admin_client.agency, domain="listed.myshopify.com", name="Listed Store")
    shop_factory(agency=agency_factory(), domain="hidden.myshopify.com")
    page = admin_client.get("/").content.decode()
    assert "Acme Agency" in page
    assert "listed.myshopify.com" in page and "Listed Store" in page
    assert "hidden.myshopify.com" not in page
    assert 'id="install-form"' in page


def test_home_for_a_viewer_has_no_install_form(client):
    agency = agency_factory()
    user = user_factory()
    membership_factory(agency=agency, user=user, role=Role.VIEWER)
    client.force_login(user)
    page = client.get("/").content.decode()
    assert agency.name in page
    assert 'id="install-form"' not in page


def test_home_flags_a_shop_whose_token_shopify_rejected(admin_client):
    shop_factory(agency=admin_client.agency, domain="revoked.myshopify.com", token="")
    page = admin_client.get("/").content.decode()
    assert "Needs reinstall" in page
