from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from tenants.actors import SYSTEM_ACTOR
from tenants.keys import key_hash
from tenants.models import ApiKey
from tenants.roles import Role
from tenants.services import ApiKeyRejected, api_key_authenticate, api_key_revoke
from tenants.tests.factories import (
    OWNERS_AND_ADMINS,
    agency_factory,
    api_client,
    api_key_factory,
    membership_factory,
    shop_factory,
)

pytestmark = pytest.mark.django_db


def test_key_is_hashed_at_rest_and_shown_once():
    agency = agency_factory()
    owner = membership_factory(agency=agency, role=Role.OWNER).user
    client = api_client(user=owner)
    created = client.post("/api/v1/api-keys/", {"name": "warehouse sync", "scope": "read"})
    assert created.status_code == 201, created.content
    plain = created.json()["key"]
    prefix, _, secret = plain.partition(".")
    assert prefix == created.json()["prefix"] and len(secret) >= 40
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tenants_apikey WHERE prefix = %s", [prefix])
        row = " ".join(str(value) for value in cursor.fetchone())
    assert secret not in row and plain not in row
    assert key_hash(plain) in row  # keyed hash, not the key
    # Never again: not in the list, not in the detail, not in the revoke answer.
    key_id = created.json()["id"]
    for response in (
        client.get("/api/v1/api-keys/"),
        client.get(f"/api/v1/api-keys/{key_id}/"),
        client.post(f"/api/v1/api-keys/{key_id}/revoke/"),
    ):
        assert response.status_code == 200
        assert secret not in response.content.decode()
        assert "secret_hash" not in response.content.decode()
        assert key_hash(plain) not in response.content.decode()
    event = AuditEvent.objects.get(event="api_key.created")
    assert secret not in str(event.data) and event.data["prefix"] == prefix


def test_key_authenticates_for_its_agency():
    agency = agency_factory()
    shop = shop_factory(agency=agency)
    _, plain = api_key_factory(agency=agency, scope="read")
    response = api_client(key=plain).get("/api/v1/shops/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [shop.pk]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer ck_000000000000.nope", "Unknown API key"),
        ("Bearer not-a-key", "Malformed API key"),
        ("Bearer ", "Empty Bearer"),
    ],
)
def test_bad_keys_answer_401_with_a_reason(header, message):
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/shops/")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "invalid_key"
    assert message in response.json()["error"]["message"]


def test_right_prefix_wrong_secret_is_rejected():
    api_key, plain = api_key_factory(agency=agency_factory())
    forged = f"{api_key.prefix}.{'A' * 43}"
    with pytest.raises(ApiKeyRejected, match="Unknown"):
        api_key_authenticate(raw_key=forged)
    assert api_key_authenticate(raw_key=plain) == api_key


def test_revoked_key_is_rejected():
    agency = agency_factory()
    api_key, plain = api_key_factory(agency=agency)
    api_key_revoke(api_key=api_key, actor=SYSTEM_ACTOR)
    response = api_client(key=plain).get("/api/v1/shops/")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    # Revoking again changes nothing and records nothing.
    api_key_revoke(api_key=api_key, actor=SYSTEM_ACTOR)
    assert AuditEvent.objects.filter(event="api_key.revoked").count() == 1


def test_expired_key_is_rejected():
    api_key, plain = api_key_factory(
        agency=agency_factory(), expires_at=timezone.now() + timedelta(hours=1)
    )
    assert api_client(key=plain).get("/api/v1/shops/").status_code == 200
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api_client(key=plain).get("/api/v1/shops/")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_expiry_in_the_past_is_refused_at_creation():
    agency = agency_factory()
    owner = membership_factory(agency=agency, role=Role.OWNER).user
    response = api_client(user=owner).post(
        "/api/v1/api-keys/",
        {"name": "late", "expires_at": (timezone.now() - timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 400
    assert "expires_at" in response.json()["error"]["fields"]
    assert not ApiKey.objects.exists()


def test_read_key_cannot_write_and_write_key_can():
    agency = agency_factory()
    shop = shop_factory(agency=agency)
    _, read_key = api_key_factory(agency=agency, scope="read")
    _, write_key = api_key_factory(agency=agency, scope="write")
    refused = api_client(key=read_key).post(f"/api/v1/shops/{shop.pk}/sync/")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "This API key is read-only."
    assert not AuditEvent.objects.filter(event="shop.sync_requested").exists()
    accepted = api_client(key=write_key).post(f"/api/v1/shops/{shop.pk}/sync/")
    assert accepted.status_code == 202


def test_keys_never_manage_keys_or_members():
    agency = agency_factory()
    _, write_key = api_key_factory(agency=agency, scope="write")
    client = api_client(key=write_key)
    for method, url in [
        ("get", "/api/v1/api-keys/"),
        ("post", "/api/v1/api-keys/"),
        ("get", "/api/v1/members/"),
    ]:
        response = getattr(client, method)(url, {"name": "escalate"} if method == "post" else None)
        assert response.status_code == 403, url
        assert response.json()["error"]["code"] == "permission_denied"
    assert ApiKey.objects.count() == 1


def test_last_used_at_is_written_at_most_once_a_minute():
    api_key, plain = api_key_factory(agency=agency_factory())
    assert api_key.last_used_at is None
    client = api_client(key=plain)
    with CaptureUpdates() as updates:
        for _ in range(3):
            assert client.get("/api/v1/me/").status_code == 200
    assert len(updates) == 1  # later requests in the same minute issue no UPDATE
    first_use = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first_use is not None
    # More than a minute later, the next use writes again.
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first_use - timedelta(seconds=61))
    client.get("/api/v1/me/")
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > first_use - timedelta(seconds=61)


class CaptureUpdates:
    """Records UPDATE statements on the API key table."""

    def __enter__(self):
        self.statements = []
        self._hook = connection.execute_wrapper(self._record)
        self._hook.__enter__()
        return self.statements

    def __exit__(self, *exc):
        self._hook.__exit__(*exc)

    def _record(self, execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("UPDATE") and "tenants_apikey" in sql:
            self.statements.append(sql)
        return execute(sql, params, many, context)


def test_keys_survive_a_secret_key_rotation_only_via_fallbacks(settings):
    api_key, plain = api_key_factory(agency=agency_factory())
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "rotated-secret-key"
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(ApiKeyRejected):
        api_key_authenticate(raw_key=plain)
    settings.SECRET_KEY_FALLBACKS = [old]
    assert api_key_authenticate(raw_key=plain) == api_key


@pytest.mark.parametrize(
    ("role", "allowed"),
    OWNERS_AND_ADMINS,
)
def test_key_routes_per_role(role, allowed):
    agency = agency_factory()
    user = membership_factory(agency=agency, role=role).user
    existing, _ = api_key_factory(agency=agency)
    client = api_client(user=user)
    expected = (lambda ok: ok) if allowed else (lambda ok: 403)
    assert client.get("/api/v1/api-keys/").status_code == expected(200)
    assert client.get(f"/api/v1/api-keys/{existing.pk}/").status_code == expected(200)
    created = client.post("/api/v1/api-keys/", {"name": "by role", "scope": "write"})
    assert created.status_code == expected(201)
    revoked = client.post(f"/api/v1/api-keys/{existing.pk}/revoke/")
    assert revoked.status_code == expected(200)
    existing.refresh_from_db()
    assert (existing.revoked_at is not None) is allowed
    assert ApiKey.objects.filter(agency=agency, name="by role").exists() is allowed
    if allowed:
        assert created.json()["created_by"] == user.pk
        assert created.json()["scope"] == "write" and created.json()["status"] == "active"


def test_key_list_is_newest_first_and_paginated():
    agency = agency_factory()
    owner = membership_factory(agency=agency, role=Role.OWNER).user
    keys = [api_key_factory(agency=agency, name=f"k{i}")[0] for i in range(3)]
    first = api_client(user=owner).get("/api/v1/api-keys/?page_size=2").json()
    assert [row["id"] for row in first["results"]] == [keys[2].pk, keys[1].pk]
    rest = api_client(user=owner).get(first["next"]).json()
    assert [row["id"] for row in rest["results"]] == [keys[0].pk]
