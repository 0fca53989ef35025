"""Production refuses to start without real secrets; development needs none."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "SHOPIFY_API_SECRET", "SHOPIFY_API_KEY")
PROD_VALUES = {
    "SECRET_KEY": "prod-secret-key-for-the-test",
    "FIELD_ENCRYPTION_KEY": "3q2-7wF6T9nQm1vN6qf0t0fV0qHkJ8b1Zr2h3YcX5aA=",
    "SHOPIFY_API_SECRET": "shpss_test",
    "SHOPIFY_API_KEY": "app-client-id",
}


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS and k != "DJANGO_ENV"}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", SECRETS)
def test_production_names_the_missing_secret(missing):
    env = {k: v for k, v in PROD_VALUES.items() if k != missing}
    result = load_settings(DJANGO_ENV="production", **env)
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr
    assert "started" not in result.stdout


def test_production_starts_with_every_secret_set():
    result = load_settings(DJANGO_ENV="production", **PROD_VALUES)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


def test_development_starts_with_nothing_set():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


@pytest.mark.parametrize("value", ["two", "0"])
def test_a_bad_number_of_build_connections_names_the_setting(value):
    result = load_settings(FULL_SYNC_BUILD_CONNECTIONS=value)
    assert result.returncode != 0
    assert "FULL_SYNC_BUILD_CONNECTIONS must be a whole number >= 1" in result.stderr
    assert "started" not in result.stdout
