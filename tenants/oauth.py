"""Shopify's signatures and OAuth checks, as pure functions (no database, no network).

- OAuth redirects carry a hex HMAC-SHA256 of their sorted query parameters (without `hmac`).
- Webhooks carry a base64 HMAC-SHA256 of the raw request body.
Both are compared in constant time. The encoding rules follow Shopify's own libraries
(ShopifyAPI `Session.calculate_hmac`), reimplemented here because that class keeps the secret in
process-wide state.
"""

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.utils import timezone

# How far a callback's `timestamp` may lag behind our clock (a callback older than this is stale),
# and how far ahead it may run (clock skew; Shopify's Node library allows 90 s).
CALLBACK_MAX_AGE = timedelta(minutes=5)
CALLBACK_MAX_SKEW = timedelta(seconds=90)


def _signature_pairs(params: Mapping[str, str | list[str]]) -> Iterable[str]:
    for key, value in params.items():
        if key == "hmac":
            continue
        if key.endswith("[]"):
            # Shopify signs foo[]=1&foo[]=2 as foo=["1", "2"].
            key = key[:-2]
            value = json.dumps([str(item) for item in value])
        elif isinstance(value, list):
            value = value[-1] if value else ""
        # Escape the delimiters so one parameter cannot pose as two.
        key = str(key).replace("%", "%25").replace("=", "%3D")
        value = str(value).replace("%", "%25")
        yield f"{key}={value}".replace("&", "%26")


def query_signature_message(params: Mapping[str, str | list[str]]) -> str:
    return "&".join(sorted(_signature_pairs(params)))


def query_hmac(params: Mapping[str, str | list[str]], *, secret: str) -> str:
    """Hex HMAC-SHA256 of the sorted query parameters, `hmac` itself excluded."""
    message = query_signature_message(params).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def query_hmac_valid(params: Mapping[str, str | list[str]], *, secret: str) -> bool:
    received = params.get("hmac")
    if not isinstance(received, str) or not received:
        return False
    return hmac.compare_digest(query_hmac(params, secret=secret), received.lower())


def querydict_params(querydict) -> dict[str, str | list[str]]:
    """A Django QueryDict as Shopify signs it: arrays (`foo[]`) as lists, other keys as strings."""
    return {
        key: querydict.getlist(key) if key.endswith("[]") else querydict.get(key)
        for key in querydict
    }


def signed_query(params: Mapping[str, str], *, secret: str) -> str:
    """A query string with its `hmac`, as Shopify would send it (for tests and the demo)."""
    return urlencode({**params, "hmac": query_hmac(params, secret=secret)})


def body_hmac(raw_body: bytes, *, secret: str) -> str:
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def body_hmac_valid(raw_body: bytes, header: str | None, *, secrets: Iterable[str]) -> bool:
    """True when the header matches the body under any of the given secrets (rotation)."""
    if not header:
        return False
    matched = False
    for secret in secrets:
        if secret:
            # Compare against every secret so the time taken does not reveal which one matched.
            matched |= hmac.compare_digest(body_hmac(raw_body, secret=secret), header.strip())
    return matched


def new_state_nonce() -> str:
    return secrets.token_urlsafe(32)


def timestamp_fresh(value: str | None, *, now: datetime | None = None) -> bool:
    """True when a Unix `timestamp` parameter is within the accepted window around now."""
    try:
        seconds = int(value or "")
    except ValueError:
        return False
    now = now or timezone.now()
    try:
        sent = datetime.fromtimestamp(seconds, tz=now.tzinfo)
    except (OverflowError, OSError, ValueError):
        return False
    return now - CALLBACK_MAX_AGE <= sent <= now + CALLBACK_MAX_SKEW


def normalise_scopes(scopes: Iterable[str] | str) -> set[str]:
    """A set of scopes with the reads that writes imply (`write_x` grants `read_x`)."""
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    result = {scope.strip() for scope in scopes if scope and scope.strip()}
    for scope in list(result):
        if scope.startswith("write_"):
            result.add("read_" + scope.removeprefix("write_"))
    return result


def missing_scopes(*, requested: Iterable[str], granted: Iterable[str] | str) -> list[str]:
    """Requested scopes the grant does not cover, sorted (empty when the grant is complete)."""
    return sorted(normalise_scopes(requested) - normalise_scopes(granted))
