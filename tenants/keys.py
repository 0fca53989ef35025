"""API key material: generation, the keyed hash stored at rest, and constant-time checking.

A key is `ck_<12 hex>.<43 url-safe chars>`. The prefix is public and finds the row; the stored
value is HMAC-SHA256(SECRET_KEY, whole key), so a leaked table (without the settings) proves
nothing. Keys hashed under a previous SECRET_KEY keep working while it is listed in
SECRET_KEY_FALLBACKS.
"""

import hashlib
import hmac
import secrets

from django.conf import settings

KEY_PREFIX = "ck_"
_PREFIX_RANDOM_BYTES = 6
_SECRET_BYTES = 32


def key_generate() -> tuple[str, str]:
    """Return (prefix, whole plain key)."""
    prefix = KEY_PREFIX + secrets.token_hex(_PREFIX_RANDOM_BYTES)
    return prefix, f"{prefix}.{secrets.token_urlsafe(_SECRET_BYTES)}"


def key_hash(plain_key: str, *, pepper: str | None = None) -> str:
    pepper = settings.SECRET_KEY if pepper is None else pepper
    return hmac.new(pepper.encode(), plain_key.encode(), hashlib.sha256).hexdigest()


def key_matches(plain_key: str, stored_hash: str) -> bool:
    peppers = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    # Check every pepper so the time taken does not reveal which one matched.
    results = [hmac.compare_digest(key_hash(plain_key, pepper=p), stored_hash) for p in peppers]
    return any(results)


def key_split(raw: str) -> tuple[str, str] | None:
    """(prefix, whole key) when `raw` has the key's shape, else None."""
    prefix, dot, secret = raw.partition(".")
    if not dot or not secret or not prefix.startswith(KEY_PREFIX) or len(prefix) > 24:
        return None
    return prefix, raw
