"""Django settings, read from the environment (see config/env.py and the README)."""

import sys

import dj_database_url

from config.env import BASE_DIR, IS_PRODUCTION, env_bool, env_int, env_list, env_str, secret

RUNNING_TESTS = "pytest" in sys.modules

SECRET_KEY = secret("SECRET_KEY", "Django signing key")
FIELD_ENCRYPTION_KEY = secret("FIELD_ENCRYPTION_KEY", "Fernet key that encrypts shop tokens")
# Keys accepted for decryption only, during a key rotation.
FIELD_ENCRYPTION_OLD_KEYS = env_list("FIELD_ENCRYPTION_OLD_KEYS")

DEBUG = env_bool("DEBUG", default=not IS_PRODUCTION)
# Outgoing webhooks may post to private/loopback addresses (the tests' receiver is on
# 127.0.0.1); production refuses them (notifications/addresses.py).
OUTGOING_WEBHOOKS_ALLOW_PRIVATE = env_bool(
    "OUTGOING_WEBHOOKS_ALLOW_PRIVATE", default=DEBUG or RUNNING_TESTS
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
APP_URL = (env_str("APP_URL", "http://127.0.0.1:8000") or "").rstrip("/")
CSRF_TRUSTED_ORIGINS = [APP_URL]

# Shopify app credentials. In development they match the sandbox's default app.
SHOPIFY_API_KEY = env_str("SHOPIFY_API_KEY") or ("" if IS_PRODUCTION else "clientele-dev")
SHOPIFY_API_SECRET = secret("SHOPIFY_API_SECRET", "verifies OAuth and webhook HMACs")
# Accepted for webhook HMACs while the app secret is being rotated.
SHOPIFY_API_SECRET_PREVIOUS = env_str("SHOPIFY_API_SECRET_PREVIOUS", "")
SHOPIFY_API_VERSION = env_str("SHOPIFY_API_VERSION", "2025-01")
SHOPIFY_SCOPES = env_list(
    "SHOPIFY_SCOPES",
    "read_customers,write_customers,read_orders,read_customer_merge,write_customer_merge",
)
# Where a shop's endpoints live, "{shop}" replaced by its domain. Shopify: https://{shop}.
# The sandbox serves every store under one port: http://127.0.0.1:8787/store/{shop}.
SHOPIFY_BASE_URL = env_str("SHOPIFY_BASE_URL", "https://{shop}")
SHOPIFY_TIMEOUT_SECONDS = float(env_str("SHOPIFY_TIMEOUT_SECONDS", "20") or 20)
if IS_PRODUCTION and not SHOPIFY_API_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SHOPIFY_API_KEY is not set. It is required in production.")

INSTALLED_APPS = [
    "config.admin.OperatorAdminConfig",  # superusers only (config/admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "audit",
    "tenants",
    "customers",
    "segments",
    "merges",
    "notifications",
]
if env_bool("SANDBOX_APP", default=not IS_PRODUCTION):
    # Only for its management command; production code never imports it.
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}") or "",
        # Tests: no persistent connections, so server threads leave none open at teardown.
        conn_max_age=int(env_str("CONN_MAX_AGE", "0" if RUNNING_TESTS else "60") or 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo's web server, worker and set-up write at the same time: WAL lets readers go on
    # while one writes, IMMEDIATE takes the write lock up front, and writers wait, not fail.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if RUNNING_TESTS:
    # Fast hashing for the hundreds of users tests create; never used outside pytest.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves collected static files in production (gunicorn); in development the
# staticfiles app serves them from the apps, so nothing needs collecting first.
if IS_PRODUCTION or STATIC_ROOT.is_dir():
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION

# Tasks: ORM broker by default (no extra service); Redis when REDIS_URL is set.
# `retry` must exceed `timeout` or a slow task is handed to a second worker.
Q_CLUSTER = {
    "name": "clientele",
    "workers": int(env_str("Q_WORKERS", "2") or 2),
    "timeout": 1800,
    "retry": 2000,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "poll": 0.2,
    # Under pytest tasks run inline (django-q2 reads this once, at import); the qcluster
    # integration test starts a real cluster in a subprocess, where it is False.
    "sync": env_bool("Q_SYNC", default=RUNNING_TESTS),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Full sync (customers.sync): load the orders export in a second process while this one loads
# the customers (pays when a core is idle; on a busy machine it was slower: docs/benchmarks.md),
# and how many connections build a shop's partitions on its first sync.
FULL_SYNC_SECOND_LOADER = env_bool("FULL_SYNC_SECOND_LOADER", default=True)
FULL_SYNC_BUILD_CONNECTIONS = env_int("FULL_SYNC_BUILD_CONNECTIONS", 2, minimum=1)
# After how long an unfinished full sync that nothing runs (its process killed, or failed and
# never retried) is abandoned: the hourly janitor drops its staged rows (customers.sync_tables).
FULL_SYNC_ABANDONED_AFTER_HOURS = env_int("FULL_SYNC_ABANDONED_AFTER_HOURS", 24, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "tenants.api.schema.TenantAutoSchema",
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.URLPathVersioning",
    "ALLOWED_VERSIONS": ["v1"],
    "DEFAULT_VERSION": "v1",
    "DEFAULT_FILTER_BACKENDS": ["tenants.api.filters.TenantFilterBackend"],
    # API keys first, so a missing credential answers 401 with `WWW-Authenticate: Bearer`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.api.authentication.ApiKeyAuthentication",
        "tenants.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "tenants.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "tenants.api.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["tenants.api.throttling.CallerRateThrottle"],
    # Per API key / user. A shared cache (Redis, see REDIS_URL) makes it hold across processes.
    "DEFAULT_THROTTLE_RATES": {"api": env_str("API_RATE_LIMIT", "1200/min")},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clientele API",
    "DESCRIPTION": (
        "Customers, segments, groups and duplicates across an agency's Shopify stores.\n\n"
        "Authenticate with `Authorization: Bearer <prefix>.<secret>` (an agency API key) or the "
        "pages' login session. A key acts for its own agency. A signed-in user who belongs to "
        "several agencies names one with the `X-Agency: <slug>` header or `?agency=<slug>`; "
        "with one agency it is used by default. Lists use cursor pagination (`cursor`, "
        "`page_size`). Errors share one body: "
        '`{"error": {"code": ..., "message": ..., "fields": {...}}}`. An id outside your '
        "agency answers 404."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from the sidecar package: the docs page needs no external CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status`; name each choice set so the schema's enums stay stable.
    "ENUM_NAME_OVERRIDES": {
        "DuplicateStatusEnum": "merges.models.DuplicateCandidate.Status",
        "DuplicateTierEnum": "merges.models.DuplicateCandidate.Tier",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
