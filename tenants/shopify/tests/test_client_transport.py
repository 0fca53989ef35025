"""Transport behaviour of ShopifyClient over real loopback HTTP (scripted stub server)."""

import socket

import pytest

from audit.models import AuditEvent
from tenants.models import Shop
from tenants.shopify import documents
from tenants.shopify.client import RetryPolicy, ShopifyClient
from tenants.shopify.errors import (
    ShopifyAccessDenied,
    ShopifyAuthError,
    ShopifyGraphQLError,
    ShopifyNotFound,
    ShopifyRequestError,
    ShopifyThrottled,
    ShopifyTimeout,
    ShopifyTransportError,
    ShopifyUserErrors,
)
from tenants.shopify.tests.stub_server import (
    Answer,
    FakeClock,
    StubServer,
    graphql_ok,
    throttled,
)
from tenants.tests.factories import agency_factory, shop_factory

SHOP_DATA = {"shop": {"name": "Acme"}}


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server


def unsaved_shop(stub, domain="acme.myshopify.com", token="shpat_acme"):
    return Shop(domain=domain, access_token=token, api_base_url=stub.shop_base_url(domain))


def make_client(shop, *, attempts=5, timeout=2.0):
    clock = FakeClock()
    client = ShopifyClient(
        shop, timeout=timeout, retry=RetryPolicy(max_attempts=attempts), clock=clock
    )
    return client, clock


def test_sends_the_session_url_and_token_and_returns_data(stub):
    stub.queue(graphql_ok(SHOP_DATA))
    client, clock = make_client(unsaved_shop(stub))

    assert client.execute("SHOP_INFO") == SHOP_DATA

    (request,) = stub.requests
    assert request.path == "/store/acme.myshopify.com/admin/api/2025-01/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == "shpat_acme"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json()["query"] == documents.SHOP_INFO
    assert clock.sleeps == []


def test_accepts_the_document_text_as_well_as_its_name(stub):
    stub.queue(graphql_ok(SHOP_DATA))
    client, _ = make_client(unsaved_shop(stub))
    assert client.execute(documents.SHOP_INFO) == SHOP_DATA


def test_refuses_a_document_that_is_not_registered_without_sending_it(stub):
    client, _ = make_client(unsaved_shop(stub))
    with pytest.raises(ValueError, match="not a registered Shopify document"):
        client.execute("{ shop { name } }")
    assert stub.requests == []


def test_timeout_fires_and_is_a_typed_error(stub):
    stub.queue(Answer(action="hang"), Answer(action="hang"))
    client, clock = make_client(unsaved_shop(stub), attempts=2, timeout=0.3)

    with pytest.raises(ShopifyTimeout):
        client.execute("SHOP_INFO")
    assert len(stub.requests) == 2  # a query is retried once, then the timeout is raised
    assert clock.sleeps == [1.0]


def test_throttled_waits_the_computed_time_then_retries(stub):
    # requested 752, available 666, restore 50/s -> ceil(86 / 50) = 2 s
    stub.queue(throttled(752, 666, rate=50), graphql_ok(SHOP_DATA))
    client, clock = make_client(unsaved_shop(stub))

    assert client.execute("SHOP_INFO") == SHOP_DATA
    assert clock.sleeps == [2.0]
    assert len(stub.requests) == 2
    assert stub.requests[0].body == stub.requests[1].body


def test_throttled_waits_at_least_one_second(stub):
    stub.queue(throttled(100, 99, rate=50), graphql_ok(SHOP_DATA))
    client, clock = make_client(unsaved_shop(stub))
    client.execute("SHOP_INFO")
    assert clock.sleeps == [1.0]


def test_throttled_retries_are_bounded_then_typed(stub):
    stub.queue(*[throttled(500, 0, rate=100) for _ in range(3)])
    client, clock = make_client(unsaved_shop(stub), attempts=3)

    with pytest.raises(ShopifyThrottled):
        client.execute("SHOP_INFO")
    assert len(stub.requests) == 3
    assert clock.sleeps == [5.0, 5.0]


def test_a_mutation_is_retried_after_throttled_because_shopify_did_not_run_it(stub):
    ok = graphql_ok({"tagsAdd": {"node": {"id": "gid://shopify/Customer/1"}, "userErrors": []}})
    stub.queue(throttled(10, 0, rate=100), ok)
    client, clock = make_client(unsaved_shop(stub))
    client.execute("TAGS_ADD", {"id": "gid://shopify/Customer/1", "tags": ["vip"]})
    assert clock.sleeps == [1.0]


def test_429_waits_for_retry_after(stub):
    stub.queue(Answer(status=429, body={"errors": "Throttled"}, headers={"Retry-After": "3.0"}))
    stub.queue(graphql_ok(SHOP_DATA))
    client, clock = make_client(unsaved_shop(stub))

    assert client.execute("SHOP_INFO") == SHOP_DATA
    assert clock.sleeps == [3.0]


def test_5xx_is_retried_with_exponential_backoff_for_a_query(stub):
    stub.queue(Answer(status=502, body=b"bad gateway"), Answer(status=503, body=b"busy"))
    stub.queue(graphql_ok(SHOP_DATA))
    client, clock = make_client(unsaved_shop(stub))

    assert client.execute("SHOP_INFO") == SHOP_DATA
    assert clock.sleeps == [1.0, 2.0]


def test_5xx_retries_are_bounded(stub):
    stub.queue(*[Answer(status=500, body=b"oops") for _ in range(4)])
    client, clock = make_client(unsaved_shop(stub), attempts=4)
    with pytest.raises(ShopifyTransportError) as caught:
        client.execute("SHOP_INFO")
    assert caught.value.status == 500
    assert len(stub.requests) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_a_mutation_is_not_repeated_after_a_5xx(stub):
    stub.queue(Answer(status=503, body=b"busy"))
    client, clock = make_client(unsaved_shop(stub))
    with pytest.raises(ShopifyTransportError):
        client.execute(
            "CUSTOMER_MERGE", {"one": "gid://shopify/Customer/1", "two": "gid://shopify/Customer/2"}
        )
    assert len(stub.requests) == 1
    assert clock.sleeps == []


def test_dropped_connection_is_retried_for_a_query(stub):
    stub.queue(Answer(action="drop"), graphql_ok(SHOP_DATA))
    client, clock = make_client(unsaved_shop(stub))
    assert client.execute("SHOP_INFO") == SHOP_DATA
    assert len(stub.requests) == 2
    assert clock.sleeps == [1.0]


def test_dropped_connection_after_a_mutation_was_sent_is_not_repeated(stub):
    stub.queue(Answer(action="drop"))
    client, _ = make_client(unsaved_shop(stub))
    with pytest.raises(ShopifyTransportError):
        client.execute(
            "CUSTOMER_MERGE", {"one": "gid://shopify/Customer/1", "two": "gid://shopify/Customer/2"}
        )
    assert len(stub.requests) == 1


def test_an_idempotent_mutation_is_retried_after_a_dropped_connection(stub):
    ok = graphql_ok({"tagsAdd": {"node": {"id": "gid://shopify/Customer/1"}, "userErrors": []}})
    stub.queue(Answer(action="drop"), ok)
    client, _ = make_client(unsaved_shop(stub))
    client.execute("TAGS_ADD", {"id": "gid://shopify/Customer/1", "tags": ["vip"]}, idempotent=True)
    assert len(stub.requests) == 2


def test_connection_refused_is_retried_even_for_a_mutation_then_typed():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shop = Shop(
        domain="gone.myshopify.com", access_token="t", api_base_url=f"http://127.0.0.1:{port}"
    )
    client, clock = make_client(shop, attempts=3)
    with pytest.raises(ShopifyTransportError, match="could not reach Shopify"):
        client.execute(
            "CUSTOMER_MERGE", {"one": "gid://shopify/Customer/1", "two": "gid://shopify/Customer/2"}
        )
    assert clock.sleeps == [1.0, 2.0]


def test_401_raises_auth_error_without_retrying(stub):
    stub.queue(Answer(status=401, body={"errors": "[API] Invalid API key or access token"}))
    client, clock = make_client(unsaved_shop(stub))
    with pytest.raises(ShopifyAuthError) as caught:
        client.execute("SHOP_INFO")
    assert caught.value.status == 401
    assert "Invalid API key" in str(caught.value)
    assert len(stub.requests) == 1
    assert clock.sleeps == []


@pytest.mark.django_db
@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_drops_the_rejected_token_and_records_it(stub, status):
    agency = agency_factory()
    shop = shop_factory(agency=agency, token="shpat_revoked")
    shop.api_base_url = stub.shop_base_url(shop.domain)
    shop.save()
    stub.queue(Answer(status=status, body={"errors": "Invalid access token"}))

    with pytest.raises(ShopifyAuthError):
        make_client(shop)[0].execute("SHOP_INFO")

    shop.refresh_from_db()
    assert shop.access_token == ""
    assert shop.needs_reinstall
    event = AuditEvent.objects.get(event="shop.auth_revoked")
    assert (event.shop_id, event.data) == (shop.pk, {"http_status": status})


@pytest.mark.django_db
def test_auth_failure_keeps_a_token_stored_by_a_reinstall_meanwhile(stub):
    shop = shop_factory(agency=agency_factory(), token="shpat_old")
    shop.api_base_url = stub.shop_base_url(shop.domain)
    shop.save()
    client, _ = make_client(shop)
    Shop.objects.filter(pk=shop.pk).update(access_token="shpat_new_from_reinstall")
    stub.queue(Answer(status=401, body={"errors": "Invalid access token"}))

    with pytest.raises(ShopifyAuthError):
        client.execute("SHOP_INFO")

    shop.refresh_from_db()
    assert shop.access_token == "shpat_new_from_reinstall"
    assert not AuditEvent.objects.filter(event="shop.auth_revoked").exists()


def test_404_is_not_found(stub):
    stub.queue(Answer(status=404, body={"errors": "Not Found"}))
    client, _ = make_client(unsaved_shop(stub))
    with pytest.raises(ShopifyNotFound):
        client.execute("SHOP_INFO")


def test_user_errors_are_raised_with_shopifys_answer(stub):
    user_errors = [
        {
            "field": ["customerOneId"],
            "message": "Customers must have 250 tags or less.",
            "code": "INVALID_CUSTOMER",
        },
        {
            "field": ["customerTwoId"],
            "message": "Customers must have 250 tags or less.",
            "code": "INVALID_CUSTOMER",
        },
    ]
    stub.queue(
        graphql_ok(
            {"customerMerge": {"resultingCustomerId": None, "job": None, "userErrors": user_errors}}
        )
    )
    client, _ = make_client(unsaved_shop(stub))

    with pytest.raises(ShopifyUserErrors) as caught:
        client.execute(
            "CUSTOMER_MERGE", {"one": "gid://shopify/Customer/1", "two": "gid://shopify/Customer/2"}
        )
    assert caught.value.errors == user_errors
    assert caught.value.codes == ["INVALID_CUSTOMER", "INVALID_CUSTOMER"]
    assert caught.value.operation == "customerMerge"
    assert "customerOneId: Customers must have 250 tags or less." in str(caught.value)


def test_access_denied_is_typed(stub):
    body = {
        "errors": [
            {
                "message": "Access denied for customers field.",
                "extensions": {"code": "ACCESS_DENIED"},
            }
        ]
    }
    stub.queue(Answer(body=body))
    client, _ = make_client(unsaved_shop(stub))
    with pytest.raises(ShopifyAccessDenied):
        client.execute("SHOP_INFO")


def test_other_graphql_errors_carry_codes_and_are_not_retried(stub):
    body = {
        "errors": [
            {"message": "Customers must be different.", "extensions": {"code": "BAD_REQUEST"}}
        ],
        "data": None,
    }
    stub.queue(Answer(body=body))
    client, _ = make_client(unsaved_shop(stub))
    with pytest.raises(ShopifyGraphQLError) as caught:
        client.execute(
            "CUSTOMER_MERGE_PREVIEW",
            {"one": "gid://shopify/Customer/1", "two": "gid://shopify/Customer/1"},
        )
    assert caught.value.codes == ["BAD_REQUEST"]
    assert len(stub.requests) == 1


def test_paces_a_repeated_call_from_the_last_throttle_status(stub):
    # The first answer says: this document requested 500, 100 left, refilling 100/s.
    stub.queue(graphql_ok(SHOP_DATA, requested=500, available=100), graphql_ok(SHOP_DATA))
    client, clock = make_client(unsaved_shop(stub))

    client.execute("SHOP_INFO")
    assert clock.sleeps == []
    client.execute("SHOP_INFO")
    assert clock.sleeps == [4.0]  # (500 - 100) / 100 before sending, not a THROTTLED round trip


def test_pacing_counts_the_refill_since_the_last_answer(stub):
    stub.queue(graphql_ok(SHOP_DATA, requested=500, available=100), graphql_ok(SHOP_DATA))
    client, clock = make_client(unsaved_shop(stub))
    client.execute("SHOP_INFO")
    clock.now += 3.0  # 300 points came back meanwhile
    client.execute("SHOP_INFO")
    assert clock.sleeps == [pytest.approx(1.0)]


def test_the_token_is_not_in_the_clients_repr(stub):
    client, _ = make_client(unsaved_shop(stub, token="shpat_secret_value"))
    assert "shpat_secret_value" not in repr(client)


def test_a_body_dripping_slower_than_the_timeout_is_cut_off(stub):
    # Every byte arrives within the socket timeout, the whole body does not.
    stub.queue(Answer(body=graphql_ok(SHOP_DATA).body, action="drip"))
    client, _ = make_client(unsaved_shop(stub), attempts=1, timeout=0.5)
    with pytest.raises(ShopifyTimeout):
        client.execute("SHOP_INFO")


def test_a_retry_after_longer_than_the_maximum_wait_is_raised_not_slept(stub):
    stub.queue(Answer(status=429, body={"errors": "Throttled"}, headers={"Retry-After": "900"}))
    client, clock = make_client(unsaved_shop(stub))
    with pytest.raises(ShopifyThrottled):
        client.execute("SHOP_INFO")
    assert clock.sleeps == []
    assert len(stub.requests) == 1


def test_a_redirect_is_not_followed_with_the_token(stub):
    stub.queue(Answer(status=302, body=b"", headers={"Location": "http://127.0.0.1:9/elsewhere"}))
    client, _ = make_client(unsaved_shop(stub))
    with pytest.raises(ShopifyRequestError) as caught:
        client.execute("SHOP_INFO")
    assert caught.value.status == 302
    assert len(stub.requests) == 1


def test_a_shop_without_a_token_is_refused_before_sending(stub):
    client, _ = make_client(unsaved_shop(stub, token=""))
    with pytest.raises(ShopifyAuthError, match="no access token"):
        client.execute("SHOP_INFO")
    assert stub.requests == []


def test_a_mutation_payload_of_null_without_errors_is_an_error(stub):
    stub.queue(graphql_ok({"tagsAdd": None}))
    client, _ = make_client(unsaved_shop(stub))
    with pytest.raises(ShopifyGraphQLError, match="tagsAdd answered null"):
        client.execute("TAGS_ADD", {"id": "gid://shopify/Customer/1", "tags": ["vip"]})
