"""How deliveries are signed, and how a receiver checks them (docs/webhooks-outgoing.md).

    X-Clientele-Timestamp: <unix seconds when this attempt was sent>
    X-Clientele-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

During a secret rotation's grace period the header holds one signature per secret, the new
secret's first, comma-separated (`v1=<new>,v1=<old>`); a receiver accepts the delivery when one
of them matches the secret it holds.

The timestamp is inside the signed text, so an old delivery replayed later fails the age check
(`MAX_AGE_SECONDS`); receivers also drop a delivery id they have already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "X-Clientele-Signature"
TIMESTAMP_HEADER = "X-Clientele-Timestamp"
DELIVERY_HEADER = "X-Clientele-Delivery"
EVENT_HEADER = "X-Clientele-Event"
SCHEME = "v1"
MAX_AGE_SECONDS = 300


def secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return f"{SCHEME}=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signatures(secrets_: list[str], timestamp: int, body: bytes) -> str:
    """The header value: one signature per secret, comma-separated, in the given order."""
    return ",".join(signature(secret, timestamp, body) for secret in secrets_)


def signature_valid(
    secret: str,
    *,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now: float | None = None,
) -> bool:
    """What a receiver runs (the tests' receiver does exactly this): one of the header's
    signatures matches the raw body and the timestamp, and the timestamp is recent."""
    if not timestamp_header or not signature_header:
        return False
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > MAX_AGE_SECONDS:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in signature_header.split(","))
