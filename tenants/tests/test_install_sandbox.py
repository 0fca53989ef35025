"""The OAuth install end to end: our live server and the sandbox store, talking real HTTP."""

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_chain_verify
from customers.models import Customer, SyncRun
from tenants.models import Shop
from tenants.oauth_driver import (
    BrowserSession,
    refusal_message,
    shop_install_over_http,
    site_login,
)
from tenants.roles import Role
from tenants.tests.factories import agency_factory, membership_factory, shop_factory, user_factory
from tenants.webhooks.routing import routed_topics

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-for-tests-1"

SUBSCRIPTIONS = "{ webhookSubscriptions(first: 100) { nodes { topic endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } } } }"


@pytest.fixture
def site(live_server, sandbox_server, settings):
    settings.APP_URL = live_server.url
    settings.SHOPIFY_BASE_URL = sandbox_server.base_url + "/store/{shop}"
    return live_server.url


@pytest.fixture
def store(sandbox_server):
    store = sandbox_server.create_store()
    yield store
    if store.domain in sandbox_server.sandbox.stores:
        sandbox_server.sandbox.delete_store(store.domain)


@pytest.fixture
def installer():
    agency = agency_factory(name="Install Agency")
    user = user_factory()
    membership_factory(agency=agency, user=user, role=Role.ADMIN)
    return agency, user


def install(site, installer, domain) -> tuple:
    agency, user = installer
    session = BrowserSession()
    site_login(session, app_url=site, username=user.username, password=PASSWORD)
    return session, shop_install_over_http(
        session, app_url=site, shop_domain=domain, agency_id=agency.pk
    )


def subscriptions(sandbox_server, shop) -> set[tuple[str, str]]:
    status, body = sandbox_server.graphql(shop.domain, shop.access_token, SUBSCRIPTIONS)
    assert status == 200, body
    nodes = body["data"]["webhookSubscriptions"]["nodes"]
    return {(n["topic"], n["endpoint"]["callbackUrl"]) for n in nodes}


def test_install_end_to_end(site, sandbox_server, store, installer):
    agency, user = installer
    for n in range(3):
        status, body = sandbox_server.control(
            "POST",
            f"/_sandbox/stores/{store.domain}/customers",
            {"firstName": f"Ada{n}", "email": f"ada{n}@example.com"},
        )
        assert status == 201, body
    before = timezone.now()
    session, answer = install(site, installer, store.domain)
    assert answer.status == 302, refusal_message(answer)
    assert answer.location == site + "/"

    shop = Shop.objects.get(domain=store.domain)
    assert shop.agency == agency
    assert shop.status == Shop.Status.INSTALLED
    assert shop.installed_at >= before
    assert shop.api_base_url == sandbox_server.shop_base_url(store.domain)
    assert shop.access_token
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM tenants_shop WHERE id = %s", [shop.pk])
        (raw,) = cursor.fetchone()
    assert shop.access_token not in raw
    assert {"write_customers", "read_orders"} <= set(shop.scopes)
    # Shop details read through the client.
    assert shop.name == store.name
    assert shop.currency and shop.timezone

    expected = {
        (topic.replace("/", "_").replace(".", "_").upper(), site + "/webhooks/shopify/")
        for topic in routed_topics()
        if topic not in {"shop/redact", "customers/redact", "customers/data_request"}
    }
    assert ("APP_UNINSTALLED", site + "/webhooks/shopify/") in expected
    assert subscriptions(sandbox_server, shop) == expected

    installed = AuditEvent.objects.get(event="shop.installed", shop_id=shop.pk)
    assert installed.actor == f"user:{user.pk}"
    assert installed.data["reinstall"] is False
    assert AuditEvent.objects.filter(event="shop.sync_requested", shop_id=shop.pk).exists()
    # The first full sync was queued on commit (tests run tasks inline) and mirrored the store.
    run = SyncRun.all_shops.get(shop=shop)
    assert (run.kind, run.status, run.error) == ("full", "succeeded", "")
    assert Customer.all_shops.filter(shop=shop).count() == 3
    assert audit_chain_verify(agency_id=agency.pk) == (True, None)

    home = session.request(site + "/")
    assert store.domain in home.text and "installed" in home.text


def test_reinstall_updates_the_same_row_and_does_not_double_webhooks(
    site, sandbox_server, store, installer
):
    _, first = install(site, installer, store.domain)
    assert first.status == 302, refusal_message(first)
    shop = Shop.objects.get(domain=store.domain)
    Shop.objects.filter(pk=shop.pk).update(
        status=Shop.Status.UNINSTALLED, access_token="", uninstalled_at=timezone.now()
    )
    _, second = install(site, installer, store.domain)
    assert second.status == 302, refusal_message(second)
    again = Shop.objects.get(domain=store.domain)
    assert again.pk == shop.pk
    assert again.status == Shop.Status.INSTALLED and again.uninstalled_at is None
    assert again.access_token
    topics = [topic for topic, _ in subscriptions(sandbox_server, again)]
    assert len(topics) == len(set(topics))
    assert AuditEvent.objects.filter(event="shop.installed", shop_id=shop.pk).count() == 2


def test_scope_downgrade_is_refused_and_stores_nothing(site, sandbox_server, store, installer):
    status, _ = sandbox_server.control(
        "PATCH",
        f"/_sandbox/stores/{store.domain}",
        {"config": {"grantedScopes": ["read_customers"]}},
    )
    assert status == 200
    _, answer = install(site, installer, store.domain)
    assert answer.status == 400
    assert 'data-reason="scope_downgrade"' in answer.text
    assert "write_customers" in answer.text
    assert not Shop.objects.exists()
    event = AuditEvent.objects.get(event="shop.install_rejected")
    assert event.data == {"reason": "scope_downgrade"}


def test_code_exchange_failure_is_refused_and_stores_nothing(
    site, sandbox_server, store, installer, settings
):
    agency, user = installer
    session = BrowserSession()
    site_login(session, app_url=site, username=user.username, password=PASSWORD)
    start = session.request(f"{site}/shopify/install/?shop={store.domain}&agency={agency.pk}")
    consent = session.request(start.location)
    assert consent.status == 302
    # The callback is genuine; the exchange then presents credentials the store does not know.
    settings.SHOPIFY_API_KEY = "unknown-client-id"
    answer = session.request(consent.location)
    assert answer.status == 400
    assert 'data-reason="code_exchange"' in answer.text
    assert not Shop.objects.exists()


def test_a_shop_held_by_another_agency_is_refused(site, sandbox_server, store, installer):
    shop_factory(agency=agency_factory(), domain=store.domain)
    _, answer = install(site, installer, store.domain)
    assert answer.status == 409
    assert "already connected to another agency" in answer.text
    assert Shop.objects.get(domain=store.domain).agency != installer[0]


def test_uninstall_then_shop_redact_delivered_by_the_sandbox(
    site, sandbox_server, store, installer
):
    from django.apps import apps

    from tenants.scoping import ShopOwnedModel

    agency, _ = installer
    status, body = sandbox_server.control(
        "POST",
        f"/_sandbox/stores/{store.domain}/customers",
        {"firstName": "Eve", "email": "e@x.io"},
    )
    assert status == 201, body
    _, answer = install(site, installer, store.domain)
    assert answer.status == 302, refusal_message(answer)
    shop = Shop.objects.get(domain=store.domain)
    assert Customer.all_shops.filter(shop=shop).count() == 1

    def deliver(action, body=None):
        status, answer = sandbox_server.control(
            "POST", f"/_sandbox/webhooks/{store.domain}/{action}", body or {}
        )
        assert status == 200, answer
        status, idle = sandbox_server.control("POST", "/_sandbox/webhooks/wait", {"timeout": 20})
        assert status == 200 and idle["idle"], idle

    deliver("app_uninstalled")
    shop.refresh_from_db()
    assert (shop.status, shop.access_token) == (Shop.Status.UNINSTALLED, "")
    assert Customer.all_shops.filter(shop=shop).count() == 1  # data stays until shop/redact

    deliver("shop_redact", {"callbackUrl": site + "/webhooks/shopify/"})
    assert not Shop.objects.filter(pk=shop.pk).exists()
    owned = [m for m in apps.get_models() if issubclass(m, ShopOwnedModel)]
    assert len(owned) > 3
    leftovers = {m.__name__: m.all_shops.filter(shop_id=shop.pk).count() for m in owned}
    assert set(leftovers.values()) == {0}, leftovers
    events = set(AuditEvent.objects.filter(shop_id=shop.pk).values_list("event", flat=True))
    assert {"shop.installed", "shop.uninstalled", "shop.redacted"} <= events
    assert audit_chain_verify(agency_id=agency.pk) == (True, None)


def test_shopify_failing_after_the_code_exchange_stores_nothing(
    site, sandbox_server, store, installer
):
    # The token is granted, then the store keeps answering 503 to the shop-info query
    # (the client's bounded retries take about 15 s).
    sandbox_server.add_fault(
        kind="error", status=503, count=5, path_contains="graphql.json", shop=store.domain
    )
    _, answer = install(site, installer, store.domain)
    assert answer.status == 400
    assert 'data-reason="shopify"' in answer.text
    assert not Shop.objects.exists()
    assert AuditEvent.objects.get(event="shop.install_rejected").data == {"reason": "shopify"}
