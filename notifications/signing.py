"""How deliveries are signed, and how a receiver checks them (docs/webhooks-outgoing.md).

    X-Clientele-Timestamp: <unix seconds when this attempt was sent>
    X-Clientele-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

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


def signature_valid(
    secret: str,
    *,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now: float | None = None,
) -> bool:
    """What a receiver runs (the tests' receiver does exactly this): the signature matches the
    raw body and the timestamp, and the timestamp is recent."""
    if not timestamp_header or not signature_header:
        return False
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > MAX_AGE_SECONDS:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signature_header)
