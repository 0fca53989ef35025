"""Control API for webhooks, merges and bulk operations (JSON in/out), next to /_sandbox/:

GET  /_sandbox/webhooks/deliveries?shop=&topic=     the delivery log (every attempt, with body)
POST /_sandbox/webhooks/settings     {"timeFactor", "timeout", "complianceUrl"}
POST /_sandbox/webhooks/faults       {"drop": n, "duplicate": n, "reorder": n}; DELETE clears
POST /_sandbox/webhooks/wait         {"timeout": s, "shop"?} -> {"idle": bool} once nothing is queued
GET  /_sandbox/webhooks/{shop}/subscriptions
POST /_sandbox/webhooks/{shop}/customers_data_request  {"customerId", "callbackUrl"?}
POST /_sandbox/webhooks/{shop}/customers_redact        {"customerId", "callbackUrl"?}
POST /_sandbox/webhooks/{shop}/shop_redact             {"callbackUrl"?}
POST /_sandbox/webhooks/{shop}/app_uninstalled         revoke tokens, notify, drop subscriptions
POST /_sandbox/merges/{shop}/settings  {"delay", "startDelay"} (seconds)
GET  /_sandbox/merges/{shop}/jobs
POST /_sandbox/bulk/{shop}/settings    {"startDelay"} (seconds)

The privacy topics go to the app's compliance webhook URL (`complianceUrl`, or `callbackUrl` in
the body), as Shopify sends them to the URL configured for the app, never to API subscriptions.
A data request marks the customer's pending data request and a redaction marks it redacted,
which are merge blockers (PENDING_DATA_REQUEST, REDACTED_AT), as in Shopify.
"""

from __future__ import annotations

import itertools
from urllib.parse import unquote

from sandbox import webhook_payloads as payloads
from sandbox.graphql.registry import route
from sandbox.http import HttpError, Request, Response, json_response
from sandbox.seed import parse_gid
from sandbox.store import SandboxError
from sandbox.webhook_api import subscription_node
from sandbox.webhook_events import hub_for

_data_request_ids = itertools.count(9_000_001)


def _parts(request: Request, prefix: str) -> list[str]:
    return [unquote(p) for p in request.path[len(prefix) :].strip("/").split("/") if p]


def _store(request: Request, domain: str):
    store = request.sandbox.store(domain)
    if store is None:
        raise HttpError(404, f"store {domain} does not exist")
    return store


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise HttpError(400, f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise HttpError(400, f"{name} must be a non-negative integer, got {value!r}")
    return value


@route("GET", "/_sandbox/webhooks")
@route("POST", "/_sandbox/webhooks")
@route("DELETE", "/_sandbox/webhooks")
def webhooks(request: Request) -> Response:
    hub = hub_for(request.sandbox)
    parts = _parts(request, "/_sandbox/webhooks")
    method = request.method
    if parts == ["deliveries"] and method == "GET":
        entries = hub.deliveries(shop=request.arg("shop"), topic=request.arg("topic"))
        return json_response({"deliveries": entries})
    if parts == ["settings"] and method == "POST":
        return json_response(update_settings(hub, request.json_object()))
    if parts == ["faults"] and method == "POST":
        data = request.json_object()
        unknown = set(data) - {"drop", "duplicate", "reorder"}
        if unknown:
            raise HttpError(
                400, f"unknown webhook faults {sorted(unknown)}; known: drop, duplicate, reorder"
            )
        hub.set_faults(**{key: _count(value, key) for key, value in data.items()})
        return json_response({"faults": data})
    if parts == ["faults"] and method == "DELETE":
        hub.set_faults()
        return json_response({"faults": {}})
    if parts == ["wait"] and method == "POST":
        data = request.json_object()
        timeout = _number(data.get("timeout", 10), "timeout")
        return json_response({"idle": hub.wait_idle(timeout, shop=data.get("shop"))})
    if len(parts) == 2:
        store = _store(request, parts[0])
        if parts[1] == "subscriptions" and method == "GET":
            return json_response(
                {"subscriptions": [subscription_node(s) for s in hub.subscriptions(store.domain)]}
            )
        if method == "POST":
            return trigger(request, hub, store, parts[1])
    raise HttpError(404, f"no webhook control endpoint {method} {request.path}")


def update_settings(hub, data: dict) -> dict:
    unknown = set(data) - {"timeFactor", "timeout", "complianceUrl"}
    if unknown:
        raise HttpError(
            400,
            f"unknown webhook settings {sorted(unknown)}; known: timeFactor, timeout, complianceUrl",
        )
    if "timeFactor" in data:
        hub.time_factor = _number(data["timeFactor"], "timeFactor")
    if "timeout" in data:
        hub.timeout = _number(data["timeout"], "timeout")
    if "complianceUrl" in data:
        url = data["complianceUrl"]
        if url is not None and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            raise HttpError(400, f"complianceUrl must be an http(s) URL or null, got {url!r}")
        hub.compliance_url = url
    return {
        "timeFactor": hub.time_factor,
        "timeout": hub.timeout,
        "complianceUrl": hub.compliance_url,
    }


def _compliance_url(hub, data: dict) -> str:
    url = data.get("callbackUrl") or hub.compliance_url
    if not url:
        raise HttpError(
            400,
            "no compliance webhook URL: pass callbackUrl, or set complianceUrl with "
            "POST /_sandbox/webhooks/settings",
        )
    return url


def _customer(store, data: dict):
    try:
        number = parse_gid(data.get("customerId"), "Customer")
    except SandboxError as error:
        raise HttpError(400, f"customerId: {error}") from None
    customer = store.get_customer(number)
    if customer is None:
        raise HttpError(404, f"customer {number} does not exist in {store.domain}")
    return customer


def trigger(request: Request, hub, store, action: str) -> Response:
    data = request.json_object()
    domain = store.domain
    if action == "customers_data_request":
        url = _compliance_url(hub, data)
        customer = _customer(store, data)
        request_id = next(_data_request_ids)
        with store.lock:
            customer.merge_blockers().pending_data_request = True
            body = payloads.customers_data_request(
                store=store, customer=customer, data_request_id=request_id
            )
        deliveries = hub.emit_to(domain, "customers/data_request", body, url)
    elif action == "customers_redact":
        url = _compliance_url(hub, data)
        customer = _customer(store, data)
        with store.lock:
            customer.merge_blockers().redacted = True
            body = payloads.customers_redact(store=store, customer=customer)
        deliveries = hub.emit_to(domain, "customers/redact", body, url)
    elif action == "shop_redact":
        url = _compliance_url(hub, data)
        deliveries = hub.emit_to(domain, "shop/redact", payloads.shop_redact(store=store), url)
    elif action == "app_uninstalled":
        revoked = request.sandbox.revoke_tokens(domain)
        deliveries = hub.emit(domain, "app/uninstalled", payloads.app_uninstalled(store))
        hub.forget_shop(domain, drop_pending=False)  # app/uninstalled itself still goes out
        return json_response(
            {"revokedTokens": revoked, "webhookIds": [d.webhook_id for d in deliveries]}
        )
    else:
        raise HttpError(
            404,
            f"unknown webhook trigger {action!r}; known: customers_data_request, customers_redact, "
            "shop_redact, app_uninstalled",
        )
    return json_response({"webhookIds": [d.webhook_id for d in deliveries]})


@route("GET", "/_sandbox/merges")
@route("POST", "/_sandbox/merges")
def merges(request: Request) -> Response:
    from sandbox.merge_api import jobs, settings

    parts = _parts(request, "/_sandbox/merges")
    if len(parts) != 2:
        raise HttpError(404, f"no merge control endpoint {request.method} {request.path}")
    store = _store(request, parts[0])
    if parts[1] == "settings" and request.method == "POST":
        data = request.json_object()
        unknown = set(data) - {"delay", "startDelay"}
        if unknown:
            raise HttpError(
                400, f"unknown merge settings {sorted(unknown)}; known: delay, startDelay"
            )
        values = store.extras.setdefault("merge_settings", {})
        if "delay" in data:
            values["delay"] = _number(data["delay"], "delay")
        if "startDelay" in data:
            values["start_delay"] = _number(data["startDelay"], "startDelay")
        return json_response(settings(store))
    if parts[1] == "jobs" and request.method == "GET":
        return json_response({"jobs": [job.as_graphql() for job in jobs(store).values()]})
    raise HttpError(404, f"no merge control endpoint {request.method} {request.path}")


@route("POST", "/_sandbox/bulk")
def bulk_settings(request: Request) -> Response:
    parts = _parts(request, "/_sandbox/bulk")
    if len(parts) != 2 or parts[1] != "settings":
        raise HttpError(404, f"no bulk control endpoint {request.method} {request.path}")
    store = _store(request, parts[0])
    data = request.json_object()
    unknown = set(data) - {"startDelay"}
    if unknown:
        raise HttpError(400, f"unknown bulk settings {sorted(unknown)}; known: startDelay")
    values = store.extras.setdefault("bulk_settings", {})
    if "startDelay" in data:
        values["start_delay"] = _number(data["startDelay"], "startDelay")
    return json_response({"startDelay": values.get("start_delay", 0.05)})
