"""Pytest fixtures for the sandbox (registered in the root conftest.py via `pytest_plugins`).

    def test_sync(sandbox_server, sandbox_store):
        sandbox_store.domain            # "test-7.myshopify.com" (fresh, removed after the test)
        sandbox_store.base_url          # http://127.0.0.1:PORT/store/test-7.myshopify.com
        sandbox_store.token             # an offline token with the app's default scopes
        customer = sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
        body = sandbox_store.graphql("{ customers(first: 5) { nodes { id } } }")
        sandbox_server.control("POST", "/_sandbox/faults", {"kind": "error", "count": 1})

`sandbox_server` (session) runs one in-process server on a free port with the app credentials
settings.SHOPIFY_API_KEY / SHOPIFY_API_SECRET. Everything here talks real HTTP.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from sandbox.server import SandboxServer
from sandbox.store import DEFAULT_SCOPES, Store

_domains = itertools.count(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # answer the 3xx itself
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http_request(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, raw body), not following redirects, not raising on 3xx-5xx; dict body -> JSON."""
    data = None
    headers = dict(headers or {})
    if isinstance(body, dict | list):
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
    elif isinstance(body, bytes):
        data = body
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


class SandboxHarness:
    """A running sandbox plus helpers; what the `sandbox_server` fixture yields."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.sandbox = server.sandbox

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def shop_base_url(self, domain: str) -> str:
        return self.server.shop_base_url(domain)

    def graphql_url(self, domain: str, version: str = "2025-01") -> str:
        return f"{self.shop_base_url(domain)}/admin/api/{version}/graphql.json"

    def unique_domain(self, prefix: str = "test") -> str:
        return f"{prefix}-{next(_domains)}.myshopify.com"

    def create_store(self, domain: str | None = None, **options: Any) -> Store:
        """A new store (through the control API); options as in POST /_sandbox/stores."""
        body = {"domain": domain or self.unique_domain(), **options}
        status, data = self.control("POST", "/_sandbox/stores", body)
        assert status == 201, data
        return self.sandbox.stores[data["domain"]]

    def issue_token(self, domain: str, scopes: list[str] | tuple[str, ...] | None = None) -> str:
        """An offline token for tests that do not exercise OAuth."""
        status, data = self.control(
            "POST", f"/_sandbox/stores/{domain}/tokens", {"scopes": list(scopes or DEFAULT_SCOPES)}
        )
        assert status == 201, data
        return data["access_token"]

    def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, raw = http_request(method, self.base_url + path, body)
        return status, (json.loads(raw) if raw else None)

    def graphql(
        self,
        domain: str,
        token: str | None,
        query: str,
        variables: dict | None = None,
        *,
        version: str = "2025-01",
    ) -> tuple[int, Any]:
        headers = {"X-Shopify-Access-Token": token} if token else {}
        status, _, raw = http_request(
            "POST",
            self.graphql_url(domain, version),
            {"query": query, "variables": variables or {}},
            headers,
        )
        try:
            return status, json.loads(raw)
        except json.JSONDecodeError:
            return status, raw

    def add_fault(self, **fault: Any) -> None:
        status, data = self.control("POST", "/_sandbox/faults", fault)
        assert status == 201, data

    def clear_faults(self) -> None:
        self.control("DELETE", "/_sandbox/faults")
        self.control("DELETE", "/_sandbox/webhooks/faults")


@dataclass
class StoreHandle:
    """One fresh store with a token: what the `sandbox_store` fixture yields."""

    harness: SandboxHarness
    domain: str
    token: str

    @property
    def store(self) -> Store:
        return self.harness.sandbox.stores[self.domain]

    @property
    def base_url(self) -> str:
        return self.harness.shop_base_url(self.domain)

    @property
    def graphql_url(self) -> str:
        return self.harness.graphql_url(self.domain)

    def graphql(
        self, query: str, variables: dict | None = None, *, token: str | None = ...
    ) -> dict:
        """The JSON body (asserting HTTP 200)."""
        status, body = self.harness.graphql(
            self.domain, self.token if token is ... else token, query, variables
        )
        assert status == 200, (status, body)
        return body

    def _control(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, data = self.harness.control(method, f"/_sandbox/stores/{self.domain}{path}", body)
        assert status == expect, (status, data)
        return data

    def create_customer(self, values: dict) -> dict:
        return self._control("POST", "/customers", values, expect=201)

    def update_customer(self, customer_id: str | int, values: dict) -> dict:
        return self._control("PATCH", f"/customers/{quote(str(customer_id), safe='')}", values)

    def delete_customer(self, customer_id: str | int) -> dict:
        return self._control("DELETE", f"/customers/{quote(str(customer_id), safe='')}")

    def place_order(self, customer_id: str | int | None, **order: Any) -> dict:
        body = {
            "lineItems": [{"quantity": 1, "productId": "gid://shopify/Product/1"}],
            "totalPrice": "10.00",
        }
        body.update(order)
        if customer_id is not None:
            body["customerId"] = str(customer_id)
        return self._control("POST", "/orders", body, expect=201)

    def cancel_order(self, order_id: str | int) -> dict:
        return self._control("POST", f"/orders/{quote(str(order_id), safe='')}/cancel")

    def configure(self, **config: Any) -> dict:
        return self._control("PATCH", "", {"config": config})

    def set_bucket(self, currently_available: float) -> dict:
        return self._control("POST", "/throttle", {"currentlyAvailable": currently_available})


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxHarness]:
    from django.conf import settings

    server = SandboxServer(
        api_key=settings.SHOPIFY_API_KEY, api_secret=settings.SHOPIFY_API_SECRET
    ).start()
    try:
        yield SandboxHarness(server)
    finally:
        server.stop()


@pytest.fixture
def sandbox_store(sandbox_server: SandboxHarness) -> Iterator[StoreHandle]:
    store = sandbox_server.create_store()
    token = sandbox_server.issue_token(store.domain)
    try:
        yield StoreHandle(sandbox_server, store.domain, token)
    finally:
        sandbox_server.clear_faults()
        if store.domain in sandbox_server.sandbox.stores:
            sandbox_server.sandbox.delete_store(store.domain)
