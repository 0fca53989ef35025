"""OAuth install, token exchange, the access token on every call, and scopes."""

import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import shopify
from django.conf import settings

from sandbox.testing import http_request

REDIRECT = "http://127.0.0.1:9/auth/callback"


def _authorize(harness, domain, **params):
    query = {
        "client_id": settings.SHOPIFY_API_KEY,
        "scope": "read_customers,write_customers",
        "redirect_uri": REDIRECT,
        "state": "nonce-1",
    }
    query.update(params)
    return http_request(
        "GET", f"{harness.shop_base_url(domain)}/admin/oauth/authorize?{urlencode(query)}"
    )


def _exchange(harness, domain, code, *, secret=None, as_json=False):
    form = {
        "client_id": settings.SHOPIFY_API_KEY,
        "client_secret": secret or settings.SHOPIFY_API_SECRET,
        "code": code,
    }
    url = f"{harness.shop_base_url(domain)}/admin/oauth/access_token"
    if as_json:
        return http_request("POST", url, form)
    return http_request(
        "POST", url, urlencode(form), {"Content-Type": "application/x-www-form-urlencoded"}
    )


@pytest.fixture
def shopify_secret():
    previous = shopify.Session.secret
    shopify.Session.secret = settings.SHOPIFY_API_SECRET
    yield
    shopify.Session.secret = previous


def test_redirect_is_signed_like_shopify(sandbox_server, sandbox_store, shopify_secret):
    status, headers, _ = _authorize(sandbox_server, sandbox_store.domain)
    assert status == 302
    location = urlsplit(headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    params = dict(parse_qsl(location.query))
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == sandbox_store.domain
    assert params["state"] == "nonce-1"
    assert abs(int(params["timestamp"]) - time.time()) < 5
    # ShopifyAPI's own check accepts it...
    assert shopify.Session.validate_hmac(params) is True
    assert shopify.Session.validate_params(params) is True
    # ...and rejects any tampering.
    assert shopify.Session.validate_hmac({**params, "shop": "evil.myshopify.com"}) is False
    shopify.Session.secret = "another-secret"
    assert shopify.Session.validate_hmac(params) is False


def test_code_is_exchanged_exactly_once(sandbox_server, sandbox_store):
    _, headers, _ = _authorize(sandbox_server, sandbox_store.domain)
    code = dict(parse_qsl(urlsplit(headers["Location"]).query))["code"]
    status, _, raw = _exchange(sandbox_server, sandbox_store.domain, code)
    assert status == 200
    import json

    grant = json.loads(raw)
    assert grant["scope"] == "write_customers"  # read_customers is implied, as Shopify reports it
    assert grant["access_token"].startswith("shpat_")
    status, body = sandbox_server.graphql(
        sandbox_store.domain, grant["access_token"], "{ customersCount { count } }"
    )
    assert status == 200 and body["data"]["customersCount"]["count"] == 0
    again_status, _, again = _exchange(sandbox_server, sandbox_store.domain, code)
    assert again_status == 400
    assert json.loads(again) == {
        "error": "invalid_request",
        "error_description": "The authorization code was not found or was already used",
    }


def test_exchange_refuses_bad_credentials_and_codes(sandbox_server, sandbox_store):
    import json

    _, headers, _ = _authorize(sandbox_server, sandbox_store.domain)
    code = dict(parse_qsl(urlsplit(headers["Location"]).query))["code"]
    status, _, raw = _exchange(sandbox_server, sandbox_store.domain, code, secret="wrong")
    assert status == 400 and json.loads(raw)["error"] == "invalid_client"
    status, _, raw = _exchange(sandbox_server, sandbox_store.domain, "made-up-code")
    assert status == 400 and json.loads(raw)["error"] == "invalid_request"
    # The code was not burnt by the bad-secret attempt; JSON bodies work too.
    status, _, raw = _exchange(sandbox_server, sandbox_store.domain, code, as_json=True)
    assert status == 200 and json.loads(raw)["access_token"]


def test_authorize_rejects_unknown_client_and_bad_scope(sandbox_server, sandbox_store):
    status, _, body = _authorize(sandbox_server, sandbox_store.domain, client_id="someone-else")
    assert status == 400 and b"client_id" in body
    status, _, body = _authorize(
        sandbox_server, sandbox_store.domain, scope="read_customers,drop_tables"
    )
    assert status == 400 and b"drop_tables" in body
    status, _, _ = _authorize(
        sandbox_server, sandbox_store.domain, redirect_uri="javascript:alert(1)"
    )
    assert status == 400


def test_approve_page_when_auto_approve_is_off(sandbox_server, sandbox_store):
    sandbox_store.configure(autoApprove=False)
    status, _, page = _authorize(sandbox_server, sandbox_store.domain)
    assert status == 200
    assert b"Install app" in page and b"write_customers" in page
    form = {
        "client_id": settings.SHOPIFY_API_KEY,
        "scope": "read_customers",
        "redirect_uri": REDIRECT,
        "state": "s2",
        "decision": "approve",
    }
    status, headers, _ = http_request(
        "POST",
        f"{sandbox_store.base_url}/admin/oauth/authorize",
        urlencode(form),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 302
    assert dict(parse_qsl(urlsplit(headers["Location"]).query))["state"] == "s2"


def test_merchant_can_grant_fewer_scopes(sandbox_server, sandbox_store):
    import json

    sandbox_store.configure(grantedScopes=["read_customers"])
    _, headers, _ = _authorize(
        sandbox_server, sandbox_store.domain, scope="read_customers,read_orders"
    )
    code = dict(parse_qsl(urlsplit(headers["Location"]).query))["code"]
    _, _, raw = _exchange(sandbox_server, sandbox_store.domain, code)
    grant = json.loads(raw)
    assert grant["scope"] == "read_customers"
    _, body = sandbox_server.graphql(
        sandbox_store.domain, grant["access_token"], "{ orders(first: 1) { nodes { id } } }"
    )
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"


@pytest.mark.parametrize("token", [None, "shpat_not-a-real-token"])
def test_api_requires_a_valid_token(sandbox_server, sandbox_store, token):
    status, body = sandbox_server.graphql(sandbox_store.domain, token, "{ shop { name } }")
    assert status == 401
    assert body == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_token_of_another_shop_is_refused(sandbox_server, sandbox_store):
    other = sandbox_server.create_store()
    status, _ = sandbox_server.graphql(other.domain, sandbox_store.token, "{ shop { name } }")
    assert status == 401
    sandbox_server.sandbox.delete_store(other.domain)


def test_revoked_tokens_stop_working(sandbox_server, sandbox_store):
    status, data = sandbox_server.control(
        "DELETE", f"/_sandbox/stores/{sandbox_store.domain}/tokens"
    )
    assert status == 200 and data["revoked"] >= 1
    status, _ = sandbox_server.graphql(
        sandbox_store.domain, sandbox_store.token, "{ shop { name } }"
    )
    assert status == 401


def test_fields_outside_the_granted_scopes_are_access_denied(sandbox_server, sandbox_store):
    customer = sandbox_store.create_customer({"email": "scoped@example.com"})
    sandbox_store.place_order(customer["id"])
    token = sandbox_server.issue_token(sandbox_store.domain, ["read_customers"])
    status, body = sandbox_server.graphql(
        sandbox_store.domain,
        token,
        "{ customers(first: 5) { nodes { id lastOrder { id } mergeable { isMergeable } } } }",
    )
    assert status == 200
    errors = {error["path"][-1]: error for error in body["errors"]}
    assert set(errors) == {"lastOrder", "mergeable"}
    assert errors["lastOrder"]["message"] == (
        "Access denied for lastOrder field. Required access: `read_orders` access scope."
    )
    assert errors["lastOrder"]["extensions"]["code"] == "ACCESS_DENIED"
    # Non-null `mergeable` nulls its (non-null) parents up to `data`, as GraphQL requires.
    assert body["data"] is None
    status, body = sandbox_server.graphql(
        sandbox_store.domain, token, "{ customers(first: 5) { nodes { id } } }"
    )
    assert body["data"]["customers"]["nodes"] == [{"id": customer["id"]}]
    no_customers = sandbox_server.issue_token(sandbox_store.domain, ["read_orders"])
    _, body = sandbox_server.graphql(
        sandbox_store.domain, no_customers, "{ customers(first: 1) { nodes { id } } shop { name } }"
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
