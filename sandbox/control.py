"""The control API under /_sandbox/: act as the merchant and inspect the sandbox (JSON in/out).

GET    /_sandbox/health
GET    /_sandbox/stores                          POST /_sandbox/stores
GET    /_sandbox/stores/{shop}                   PATCH, DELETE the same
POST   /_sandbox/stores/{shop}/tokens            {"scopes": [...]} -> {"access_token", "scope"}
DELETE /_sandbox/stores/{shop}/tokens            revoke every token (an uninstall)
POST   /_sandbox/stores/{shop}/throttle          {"currentlyAvailable": n} drains the bucket
GET    /_sandbox/stores/{shop}/customers         ?limit=&after_id=
POST   /_sandbox/stores/{shop}/customers         seed-format customer -> 201
POST   /_sandbox/stores/{shop}/customers/load    JSONL body -> {"loaded": n}
GET    /_sandbox/stores/{shop}/customers/{id}    PATCH, DELETE the same
POST   /_sandbox/stores/{shop}/orders            {"customerId", "lineItems", "totalPrice", ...} -> 201
GET    /_sandbox/stores/{shop}/orders/{id}
POST   /_sandbox/stores/{shop}/orders/{id}/cancel
DELETE /_sandbox/stores/{shop}/orders/{id}       delete an order (orders/delete webhook)
GET    /_sandbox/faults                          POST (add one), DELETE (clear)
GET    /_sandbox/requests                        the last API requests
POST   /_sandbox/reset                           remove every store, token and fault
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from sandbox.faults import parse_fault
from sandbox.graphql.registry import route
from sandbox.http import HttpError, Request, Response, json_response
from sandbox.seed import customer_to_seed, load_customers, order_to_seed, parse_gid
from sandbox.store import ACCOUNTS_VERSIONS, Sandbox, SandboxError, Store, StoreConfig

PREFIX = "/_sandbox/"
STORE_FIELDS = {
    "domain",
    "name",
    "currency",
    "ianaTimezone",
    "country",
    "customerAccountsVersion",
    "config",
}
CONFIG_FIELDS = {
    "bucketSize": ("bucket_size", float),
    "restoreRate": ("restore_rate", float),
    "maxQueryCost": ("max_query_cost", int),
    "autoApprove": ("auto_approve", bool),
    "grantedScopes": ("granted_scopes", list),
}


def store_to_json(store: Store) -> dict:
    config = store.config
    return {
        "domain": store.domain,
        "id": f"gid://shopify/Shop/{store.id}",
        "name": store.name,
        "currency": store.currency,
        "ianaTimezone": store.iana_timezone,
        "country": store.country,
        "customerAccountsVersion": store.customer_accounts_version,
        "config": {
            "bucketSize": config.bucket_size,
            "restoreRate": config.restore_rate,
            "maxQueryCost": config.max_query_cost,
            "autoApprove": config.auto_approve,
            "grantedScopes": list(config.granted_scopes)
            if config.granted_scopes is not None
            else None,
        },
        "counts": store.counts(),
    }


def apply_config(config: StoreConfig, values: object) -> None:
    if not isinstance(values, dict):
        raise SandboxError("config must be an object")
    unknown = set(values) - set(CONFIG_FIELDS)
    if unknown:
        raise SandboxError(
            f"unknown config field(s): {', '.join(sorted(unknown))}; known: {sorted(CONFIG_FIELDS)}"
        )
    staged = {}
    for key, value in values.items():
        attr, kind = CONFIG_FIELDS[key]
        if kind is list:
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(s, str) for s in value)
            ):
                raise SandboxError(f"config {key} must be a list of scope names or null")
            staged[attr] = tuple(value) if value is not None else None
        elif kind is bool:
            if not isinstance(value, bool):
                raise SandboxError(f"config {key} must be true or false")
            staged[attr] = value
        else:
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise SandboxError(f"config {key} must be a positive number")
            staged[attr] = kind(value)
    for attr, value in staged.items():
        setattr(config, attr, value)


def create_store_from(sandbox: Sandbox, data: dict) -> Store:
    unknown = set(data) - STORE_FIELDS
    if unknown:
        raise SandboxError(f"unknown store field(s): {', '.join(sorted(unknown))}")
    if not data.get("domain"):
        raise SandboxError("domain is required (e.g. acme-1.myshopify.com)")
    version = data.get("customerAccountsVersion", "CLASSIC")
    if version not in ACCOUNTS_VERSIONS:
        raise SandboxError(f"customerAccountsVersion must be one of {ACCOUNTS_VERSIONS}")
    _check_store_values(data)
    store = sandbox.create_store(
        domain=data["domain"],
        name=data.get("name"),
        currency=data.get("currency", "USD"),
        iana_timezone=data.get("ianaTimezone", "UTC"),
        country=data.get("country", "US"),
        customer_accounts_version=version,
    )
    if "config" in data:
        try:
            apply_config(store.config, data["config"])
        except SandboxError:
            sandbox.delete_store(store.domain)
            raise
    return store


def _check_store_values(data: dict) -> None:
    if "currency" in data and not re.fullmatch(r"[A-Z]{3}", str(data["currency"])):
        raise SandboxError("currency must be a three-letter ISO code such as EUR")
    if "country" in data and not re.fullmatch(r"[A-Z]{2}", str(data["country"])):
        raise SandboxError("country must be a two-letter ISO code such as DE")
    if "ianaTimezone" in data:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(str(data["ianaTimezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise SandboxError(
                f"ianaTimezone {data['ianaTimezone']!r} is not an IANA time zone"
            ) from None


def _store(request: Request, domain: str) -> Store:
    store = request.sandbox.store(domain)
    if store is None:
        raise HttpError(404, f"store {domain} does not exist")
    return store


def _customer_id(raw: str) -> int:
    return parse_gid(unquote(raw), "Customer")


@route("GET", PREFIX)
@route("POST", PREFIX)
@route("PATCH", PREFIX)
@route("DELETE", PREFIX)
def control(request: Request) -> Response:
    parts = [unquote(p) for p in request.path[len(PREFIX) :].strip("/").split("/") if p]
    method = request.method
    sandbox = request.sandbox
    if parts == ["health"]:
        return json_response({"ok": True, "stores": len(sandbox.stores)})
    if parts == ["reset"] and method == "POST":
        for domain in list(sandbox.stores):
            sandbox.delete_store(domain)
        request.server.faults.clear()
        request.server.request_log.clear()
        return json_response({"ok": True})
    if parts == ["faults"]:
        faults = request.server.faults
        if method == "POST":
            faults.add(parse_fault(request.json()))
            return json_response({"faults": faults.pending()}, 201)
        if method == "DELETE":
            faults.clear()
        return json_response({"faults": faults.pending()})
    if parts == ["requests"]:
        return json_response({"requests": list(request.server.request_log)})
    if parts and parts[0] == "stores":
        return _stores(request, parts[1:], method, sandbox)
    raise HttpError(404, f"no control endpoint {method} {request.path}")


def _stores(request: Request, parts: list[str], method: str, sandbox: Sandbox) -> Response:
    if not parts:
        if method == "POST":
            return json_response(
                store_to_json(create_store_from(sandbox, request.json_object())), 201
            )
        return json_response({"stores": [store_to_json(s) for s in list(sandbox.stores.values())]})
    store = _store(request, parts[0])
    rest = parts[1:]
    if not rest:
        if method == "DELETE":
            sandbox.delete_store(store.domain)
            return json_response({"deleted": store.domain})
        if method == "PATCH":
            data = request.json_object()
            unknown = set(data) - (STORE_FIELDS - {"domain"})
            if unknown:
                raise SandboxError(f"unknown store field(s): {', '.join(sorted(unknown))}")
            _check_store_values(data)
            if (
                "customerAccountsVersion" in data
                and data["customerAccountsVersion"] not in ACCOUNTS_VERSIONS
            ):
                raise SandboxError(f"customerAccountsVersion must be one of {ACCOUNTS_VERSIONS}")
            if "config" in data:
                apply_config(store.config, data["config"])
            with store.lock:
                store.name = data.get("name", store.name)
                store.currency = data.get("currency", store.currency)
                store.iana_timezone = data.get("ianaTimezone", store.iana_timezone)
                store.country = data.get("country", store.country)
                store.customer_accounts_version = data.get(
                    "customerAccountsVersion", store.customer_accounts_version
                )
        return json_response(store_to_json(store))
    head = rest[0]
    if head == "tokens":
        if method == "DELETE":
            return json_response({"revoked": sandbox.revoke_tokens(store.domain)})
        if method == "POST":
            data = request.json_object()
            scopes = data.get("scopes")
            if scopes is None:
                from sandbox.store import DEFAULT_SCOPES

                scopes = list(DEFAULT_SCOPES)
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise SandboxError("scopes must be a list of scope names")
            from sandbox.store import compact_scopes

            token = sandbox.issue_token(store.domain, scopes)
            return json_response(
                {"access_token": token, "scope": ",".join(compact_scopes(scopes))}, 201
            )
    if head == "throttle" and method == "POST":
        from sandbox.graphql.context import RequestContext
        from sandbox.graphql.executor import bucket_for

        data = request.json_object()
        level = data.get("currentlyAvailable")
        if not isinstance(level, int | float) or isinstance(level, bool) or level < 0:
            raise SandboxError("currentlyAvailable must be a non-negative number")
        bucket = bucket_for(
            RequestContext(sandbox, store, frozenset(), data.get("apiKey") or sandbox.api_key)
        )
        bucket.drain(float(level))
        return json_response({"throttleStatus": bucket.status()})
    if head == "customers":
        return _customers(request, store, rest[1:], method)
    if head == "orders":
        return _orders(request, store, rest[1:], method)
    raise HttpError(404, f"no control endpoint {method} {request.path}")


def _customers(request: Request, store: Store, rest: list[str], method: str) -> Response:
    if not rest:
        if method == "POST":
            customer = store.create_customer(request.json_object())
            return json_response(customer_to_seed(customer), 201)
        limit = int(request.arg("limit", "100") or 100)
        after = int(request.arg("after_id", "0") or 0)
        import bisect

        with store.lock:
            start = bisect.bisect_right(store.ids_index, after)
            ids = store.ids_index[start : start + max(1, min(limit, 1000))]
            customers = [customer_to_seed(store.customers[i]) for i in ids]
        return json_response({"customers": customers, "count": len(store.customers)})
    if rest == ["load"] and method == "POST":
        lines = request.body.decode("utf-8").splitlines()
        return json_response({"loaded": load_customers(store, lines, source="request body")})
    customer_id = _customer_id(rest[0])
    if method == "DELETE":
        store.delete_customer(customer_id)
        return json_response({"deleted": f"gid://shopify/Customer/{customer_id}"})
    if method == "PATCH":
        return json_response(
            customer_to_seed(store.update_customer(customer_id, request.json_object()))
        )
    customer = store.customers.get(customer_id)
    if customer is None:
        raise HttpError(404, f"customer {customer_id} does not exist in {store.domain}")
    return json_response(customer_to_seed(customer))


def _orders(request: Request, store: Store, rest: list[str], method: str) -> Response:
    if not rest and method == "POST":
        data = request.json_object()
        customer_ref = data.pop("customerId", None)
        customer_id = parse_gid(customer_ref, "Customer") if customer_ref is not None else None
        order = store.place_order(customer_id, data)
        return json_response(order_to_seed(order), 201)
    if not rest:
        raise HttpError(405, "use POST to place an order")
    order_id = parse_gid(unquote(rest[0]), "Order")
    if rest[1:] == ["cancel"] and method == "POST":
        return json_response(order_to_seed(store.cancel_order(order_id)))
    if not rest[1:] and method == "DELETE":
        store.delete_order(order_id)
        return json_response({"deleted": f"gid://shopify/Order/{order_id}"})
    order = store.orders.get(order_id)
    if order is None:
        raise HttpError(404, f"order {order_id} does not exist in {store.domain}")
    return json_response(order_to_seed(order))
