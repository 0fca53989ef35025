"""OAuth authorization-code grant as Shopify runs it (offline tokens).

authorize: checks client id, scopes and redirect URI, then shows an approve page or (when the
store's config says so) approves at once, redirecting to `redirect_uri` with `code`, `hmac`,
`host`, `shop`, `state`, `timestamp`. The HMAC is ShopifyAPI's: hex HMAC-SHA256 of the sorted
`k=v` pairs (without `hmac`) joined by `&`, keyed with the app secret.
access_token: exchanges a code once, within ten minutes, for an offline token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import time
from urllib.parse import urlencode, urlsplit

from sandbox.http import Request, Response, html_response, json_response, redirect
from sandbox.store import Store, compact_scopes, now_ms

CODE_LIFETIME_MS = 10 * 60 * 1000
SCOPE = re.compile(r"^(unauthenticated_)?(read|write)_[a-z_]+$")


def calculate_hmac(params: dict, secret: str) -> str:
    """Shopify's OAuth/App-proxy HMAC, as ShopifyAPI's `Session.calculate_hmac` computes it."""

    def pairs():
        for key, value in params.items():
            if key == "hmac":
                continue
            if key.endswith("[]"):
                key = key.rstrip("[]")
                value = json.dumps([str(v) for v in value])
            key = str(key).replace("%", "%25").replace("=", "%3D")
            value = str(value).replace("%", "%25")
            yield f"{key}={value}".replace("&", "%26")

    message = "&".join(sorted(pairs()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _error_page(status: int, title: str, detail: str) -> Response:
    page = (
        "<!doctype html><html><head><title>Oauth error</title></head><body>"
        f"<h1>Oauth error {html.escape(title)}</h1><p>{html.escape(detail)}</p></body></html>"
    )
    return html_response(page, status)


def authorize(request: Request, store: Store) -> Response:
    params = (
        request.form() if request.method == "POST" else {k: v[0] for k, v in request.query.items()}
    )
    sandbox = request.sandbox
    client_id = params.get("client_id", "")
    if client_id != sandbox.api_key:
        return _error_page(
            400, "invalid_request", f"The client_id {client_id!r} is not a known app."
        )
    redirect_uri = params.get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _error_page(
            400, "invalid_request", "The redirect_uri is missing or not a valid URL."
        )
    prefixes = sandbox.extras.get("redirect_uri_prefixes")
    if prefixes and not any(redirect_uri.startswith(prefix) for prefix in prefixes):
        return _error_page(400, "invalid_request", "The redirect_uri is not whitelisted.")
    requested = [scope.strip() for scope in params.get("scope", "").split(",") if scope.strip()]
    bad = [scope for scope in requested if not SCOPE.match(scope)]
    if bad:
        return _error_page(400, "invalid_scope", f"The access scope is invalid: {', '.join(bad)}")
    per_user = "per-user" in request.query.get("grant_options[]", [])
    if per_user:
        return _error_page(
            400,
            "invalid_request",
            "The sandbox issues offline tokens only (no grant_options[]=per-user).",
        )
    decision = params.get("decision")
    if not store.config.auto_approve and decision is None:
        return _approve_page(store, params, requested)
    if decision == "cancel":
        return html_response("<!doctype html><p>Installation cancelled.</p>", 200)
    granted = (
        tuple(store.config.granted_scopes)
        if store.config.granted_scopes is not None
        else tuple(requested)
    )
    code = secrets.token_hex(16)
    with sandbox.lock:
        sandbox.oauth_codes[code] = (store.domain, client_id, granted, now_ms())
    answer = {
        "code": code,
        "host": base64.urlsafe_b64encode(
            f"admin.shopify.com/store/{store.domain.split('.')[0]}".encode()
        )
        .decode()
        .rstrip("="),
        "shop": store.domain,
        "timestamp": str(int(time.time())),
    }
    if params.get("state") is not None:
        answer["state"] = params["state"]
    answer["hmac"] = calculate_hmac(answer, sandbox.api_secret)
    separator = "&" if parts.query else "?"
    return redirect(f"{redirect_uri}{separator}{urlencode(answer)}")


def _approve_page(store: Store, params: dict, requested: list[str]) -> Response:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(key)}" value="{html.escape(value)}">'
        for key, value in params.items()
        if key != "decision"
    )
    scopes = "".join(f"<li>{html.escape(scope)}</li>" for scope in requested) or "<li>(none)</li>"
    page = f"""<!doctype html>
<html><head><title>Install app - {html.escape(store.name)}</title></head>
<body>
<h1>Install app on {html.escape(store.name)}</h1>
<p>{html.escape(store.domain)} is asked to grant:</p>
<ul id="scopes">{scopes}</ul>
<form method="post" action="/store/{html.escape(store.domain)}/admin/oauth/authorize">
{hidden}
<button type="submit" name="decision" value="approve" id="approve">Install app</button>
<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>
</form>
</body></html>"""
    return html_response(page)


def access_token(request: Request, store: Store) -> Response:
    sandbox = request.sandbox
    form = request.form()
    if form.get("client_id") != sandbox.api_key or form.get("client_secret") != sandbox.api_secret:
        return json_response(
            {"error": "invalid_client", "error_description": "Client credentials are invalid"}, 400
        )
    code = form.get("code") or ""
    with sandbox.lock:
        grant = sandbox.oauth_codes.pop(code, None)  # a code works exactly once
    if grant is None or grant[0] != store.domain or now_ms() - grant[3] > CODE_LIFETIME_MS:
        return json_response(
            {
                "error": "invalid_request",
                "error_description": "The authorization code was not found or was already used",
            },
            400,
        )
    domain, api_key, scopes, _ = grant
    token = sandbox.issue_token(domain, scopes, api_key=api_key)
    return json_response({"access_token": token, "scope": ",".join(compact_scopes(scopes))})
