"""Every store's endpoints under /store/{shop}/: the Admin GraphQL API and OAuth."""

from __future__ import annotations

import json
import re

from sandbox.graphql.context import RequestContext
from sandbox.graphql.executor import run_graphql
from sandbox.graphql.registry import route
from sandbox.http import Request, Response, json_response

STORE_PATH = re.compile(r"^/store/([^/]+)(/.*)$")
GRAPHQL_PATH = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


@route("GET", "/store/")
@route("POST", "/store/")
def store_endpoint(request: Request) -> Response:
    match = STORE_PATH.match(request.path)
    if not match:
        return json_response({"errors": "Not Found"}, 404)
    domain, rest = match.group(1), match.group(2)
    store = request.sandbox.store(domain)
    if store is None:
        return json_response({"errors": "Not Found"}, 404)
    from sandbox import oauth

    if rest == "/admin/oauth/authorize":
        return oauth.authorize(request, store)
    if rest == "/admin/oauth/access_token" and request.method == "POST":
        return oauth.access_token(request, store)
    graphql = GRAPHQL_PATH.match(rest)
    if graphql and request.method == "POST":
        return graphql_endpoint(request, store, graphql.group(1))
    return json_response({"errors": "Not Found"}, 404)


def graphql_endpoint(request: Request, store, version: str) -> Response:
    token = request.header("x-shopify-access-token")
    grant = request.sandbox.tokens.get(token or "")
    if grant is None or grant[0] != store.domain:
        return json_response({"errors": INVALID_TOKEN}, 401)
    _, api_key, scopes = grant
    content_type = (request.header("content-type") or "").split(";")[0].strip()
    if content_type == "application/graphql":
        payload = {"query": request.body.decode("utf-8", "replace")}
    else:
        try:
            payload = json.loads(request.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return json_response({"errors": "Invalid JSON in request body"}, 400)
        if not isinstance(payload, dict):
            return json_response({"errors": "Invalid JSON in request body"}, 400)
    if not payload.get("query"):
        return json_response({"errors": {"query": "Required parameter missing or invalid"}}, 400)
    context = RequestContext(
        sandbox=request.sandbox, store=store, scopes=scopes, api_key=api_key, api_version=version
    )
    with store.lock:
        body = run_graphql(
            context, payload.get("query"), payload.get("variables"), payload.get("operationName")
        )
    return json_response(body, 200, {"X-Shopify-API-Version": version})
