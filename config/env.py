"""Settings values read from the environment.

Development (the default) generates stable local secrets so `make demo` needs no setup;
production (`DJANGO_ENV=production`) refuses to start while a required secret is missing.
"""

import base64
import hashlib
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
IS_PRODUCTION = os.environ.get("DJANGO_ENV", "development") == "production"

# Development secrets derive from one random file so restarts keep sessions and tokens readable.
_DEV_SECRET_FILE = BASE_DIR / ".dev-secret"


def _dev_seed() -> bytes:
    if not _DEV_SECRET_FILE.exists():
        _DEV_SECRET_FILE.write_bytes(os.urandom(32))
    return _DEV_SECRET_FILE.read_bytes()


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise ImproperlyConfigured(f"{name} must be a whole number >= {minimum} (got {value!r}).")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env_str(name, default) or "").split(",") if item.strip()]


def secret(name: str, purpose: str) -> str:
    """A secret that production must set explicitly; development derives a stable one."""
    value = env_str(name)
    if value:
        return value
    if IS_PRODUCTION:
        raise ImproperlyConfigured(f"{name} is not set. It is required in production ({purpose}).")
    digest = hashlib.sha256(_dev_seed() + name.encode()).digest()
    if name == "FIELD_ENCRYPTION_KEY":
        return base64.urlsafe_b64encode(digest).decode()
    return digest.hex()
