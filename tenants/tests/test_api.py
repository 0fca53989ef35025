import pytest
from rest_framework import mixins

from audit.models import AuditEvent
from customers.models import SyncRun
from tenants.api.base import TenantScopedViewSet
from tenants.models import Invitation, Membership, Shop
from tenants.roles import Role
from tenants.tests.factories import (
    OWNERS_AND_ADMINS,
    agency_factory,
    api_client,
    api_key_factory,
    membership_factory,
    shop_factory,
    user_factory,
)

pytestmark = pytest.mark.django_db


def _error(response):
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_unauthenticated_gets_401_with_the_error_body():
    response = api_client().get("/api/v1/shops/")
    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"


def test_me_lists_the_users_agencies_with_roles():
    user = user_factory()
    first, second = agency_factory(name="Alpha"), agency_factory(name="Beta")
    membership_factory(agency=first, user=user, role=Role.OWNER)
    membership_factory(agency=second, user=user, role=Role.VIEWER)
    body = api_client(user=user).get("/api/v1/me/").json()
    assert body["kind"] == "user" and body["user"]["id"] == user.pk
    assert [(a["slug"], a["role"]) for a in body["agencies"]] == [
        (first.slug, "owner"),
        (second.slug, "viewer"),
    ]
    assert body["agencies"][1]["permissions"] == ["read"]


def test_me_for_an_api_key():
    agency = agency_factory()
    api_key, plain = api_key_factory(agency=agency, scope="read")
    body = api_client(key=plain).get("/api/v1/me/").json()
    assert body["kind"] == "api_key" and body["user"] is None
    assert body["api_key"] == {"prefix": api_key.prefix, "name": api_key.name, "scope": "read"}
    assert [a["id"] for a in body["agencies"]] == [agency.pk]


class TestAgencyResolution:
    def test_single_agency_is_the_default(self):
        agency = agency_factory()
        user = membership_factory(agency=agency).user
        shop = shop_factory(agency=agency)
        response = api_client(user=user).get("/api/v1/shops/")
        assert [row["id"] for row in response.json()["results"]] == [shop.pk]

    def test_several_agencies_need_a_choice(self):
        user = user_factory()
        first, second = agency_factory(), agency_factory()
        membership_factory(agency=first, user=user)
        membership_factory(agency=second, user=user)
        first_shop, second_shop = shop_factory(agency=first), shop_factory(agency=second)
        client = api_client(user=user)
        response = client.get("/api/v1/shops/")
        assert response.status_code == 400
        assert _error(response)["code"] == "agency_required"
        by_header = client.get("/api/v1/shops/", HTTP_X_AGENCY=second.slug)
        assert [row["id"] for row in by_header.json()["results"]] == [second_shop.pk]
        by_query = client.get(f"/api/v1/shops/?agency={first.slug}")
        assert [row["id"] for row in by_query.json()["results"]] == [first_shop.pk]

    def test_naming_a_foreign_agency_answers_404(self):
        mine, foreign = agency_factory(), agency_factory()
        user = membership_factory(agency=mine).user
        response = api_client(user=user, agency=foreign).get("/api/v1/shops/")
        assert response.status_code == 404
        assert _error(response)["code"] == "agency_not_found"

    def test_a_key_naming_another_agency_answers_404(self):
        mine, foreign = agency_factory(), agency_factory()
        _, plain = api_key_factory(agency=mine)
        assert api_client(key=plain, agency=foreign).get("/api/v1/shops/").status_code == 404
        assert api_client(key=plain, agency=mine).get("/api/v1/shops/").status_code == 200

    def test_user_without_agency_gets_403(self):
        response = api_client(user=user_factory()).get("/api/v1/shops/")
        assert response.status_code == 403
        assert _error(response)["code"] == "no_agency"


class TestShops:
    def test_detail_and_no_token_anywhere(self):
        agency = agency_factory()
        user = membership_factory(agency=agency).user
        shop = shop_factory(agency=agency, token="shpat_never_show_me")
        client = api_client(user=user)
        detail = client.get(f"/api/v1/shops/{shop.pk}/")
        assert detail.status_code == 200
        assert detail.json()["domain"] == shop.domain
        for response in (detail, client.get("/api/v1/shops/")):
            assert "shpat_never_show_me" not in response.content.decode()
            assert "access_token" not in response.content.decode()

    def test_filter_by_status(self):
        agency = agency_factory()
        user = membership_factory(agency=agency).user
        installed = shop_factory(agency=agency)
        shop_factory(agency=agency, status=Shop.Status.UNINSTALLED)
        response = api_client(user=user).get("/api/v1/shops/?status=installed")
        assert [row["id"] for row in response.json()["results"]] == [installed.pk]

    def test_sync_queues_a_mirror_sync_run_on_commit(self, django_capture_on_commit_callbacks):
        agency = agency_factory()
        admin = membership_factory(agency=agency, role=Role.ADMIN).user
        shop = shop_factory(agency=agency)
        # Capture (not run) the enqueue: running it would call the real Shopify host.
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = api_client(user=admin).post(
                f"/api/v1/shops/{shop.pk}/sync/", {"kind": "delta"}
            )
        assert response.status_code == 202, response.content
        body = response.json()
        run = SyncRun.all_shops.get(pk=body["sync_run"])
        assert (run.shop_id, run.kind, run.requested_by) == (shop.pk, "delta", f"user:{admin.pk}")
        assert body == {"shop": shop.pk, "sync_run": run.pk, "kind": "delta", "status": run.status}
        assert len(callbacks) == 1
        event = AuditEvent.objects.get(event="shop.sync_requested")
        assert (event.shop_id, event.actor) == (shop.pk, f"user:{admin.pk}")

    def test_sync_kind_is_validated(self):
        agency = agency_factory()
        admin = membership_factory(agency=agency, role=Role.ADMIN).user
        shop = shop_factory(agency=agency)
        response = api_client(user=admin).post(f"/api/v1/shops/{shop.pk}/sync/", {"kind": "weekly"})
        assert response.status_code == 400
        assert list(_error(response)["fields"]) == ["kind"]
        assert not SyncRun.all_shops.exists()

    @pytest.mark.parametrize(
        ("body", "field", "message"),
        [
            ({"knd": "delta"}, "knd", "Unknown field(s): knd. Known: kind."),
            ({"kind": "delta", "batch_size": 5}, "batch_size", "Unknown field(s): batch_size."),
            ({"kind": None}, "kind", "may not be null"),
            ({"kind": ["delta"]}, "kind", "not a valid choice"),
            ({"kind": "reconcile"}, "kind", "not a valid choice"),
            ('{"kind": "delta"', None, "JSON parse error"),
            ("[]", "non_field_errors", "Expected a dictionary"),
        ],
    )
    def test_a_bad_sync_request_is_refused_and_queues_nothing(self, body, field, message):
        agency = agency_factory()
        admin = membership_factory(agency=agency, role=Role.ADMIN).user
        shop = shop_factory(agency=agency)
        url = f"/api/v1/shops/{shop.pk}/sync/"
        client = api_client(user=admin)
        if isinstance(body, str):
            response = client.post(url, body, content_type="application/json")
        else:
            response = client.post(url, body, format="json")
        assert response.status_code == 400, response.content
        error = _error(response)
        if field is not None:
            assert message in " ".join(error["fields"][field])
        else:
            assert message in error["message"]
        assert not SyncRun.all_shops.exists()
        assert not AuditEvent.objects.filter(event="shop.sync_requested").exists()

    def test_uninstall_drops_the_token_and_keeps_the_shop(self):
        agency = agency_factory()
        admin = membership_factory(agency=agency, role=Role.ADMIN).user
        shop = shop_factory(agency=agency, token="shpat_drop_me")
        client = api_client(user=admin)
        response = client.post(f"/api/v1/shops/{shop.pk}/uninstall/")
        assert response.status_code == 200
        assert response.json()["status"] == "uninstalled"
        assert response.json()["uninstalled_at"]
        shop.refresh_from_db()
        assert (shop.status, shop.access_token) == (Shop.Status.UNINSTALLED, "")
        event = AuditEvent.objects.get(event="shop.uninstalled")
        assert event.actor == f"user:{admin.pk}"
        # Twice changes nothing and records nothing more.
        assert client.post(f"/api/v1/shops/{shop.pk}/uninstall/").status_code == 200
        assert AuditEvent.objects.filter(event="shop.uninstalled").count() == 1

    def test_sync_of_an_uninstalled_shop_is_a_conflict(self):
        agency = agency_factory()
        admin = membership_factory(agency=agency, role=Role.ADMIN).user
        shop = shop_factory(agency=agency, status=Shop.Status.UNINSTALLED)
        response = api_client(user=admin).post(f"/api/v1/shops/{shop.pk}/sync/")
        assert response.status_code == 409
        assert _error(response)["code"] == "shop_uninstalled"
        assert not AuditEvent.objects.filter(event="shop.sync_requested").exists()

    @pytest.mark.parametrize(
        ("role", "allowed"),
        OWNERS_AND_ADMINS,
    )
    def test_sync_permission_per_role(self, role, allowed):
        agency = agency_factory()
        user = membership_factory(agency=agency, role=role).user
        shop = shop_factory(agency=agency)
        client = api_client(user=user)
        assert client.get(f"/api/v1/shops/{shop.pk}/").status_code == 200  # every role reads
        response = client.post(f"/api/v1/shops/{shop.pk}/sync/")
        assert response.status_code == (202 if allowed else 403)
        uninstall = client.post(f"/api/v1/shops/{shop.pk}/uninstall/")
        assert uninstall.status_code == (200 if allowed else 403)
        if not allowed:
            assert f"Your role ({role})" in _error(response)["message"]
            shop.refresh_from_db()
            assert shop.status == Shop.Status.INSTALLED


class TestMembers:
    @pytest.mark.parametrize(
        ("role", "allowed"),
        OWNERS_AND_ADMINS,
    )
    def test_member_routes_are_for_admins(self, role, allowed):
        agency = agency_factory()
        caller = membership_factory(agency=agency, role=role).user
        target = membership_factory(agency=agency, role=Role.VIEWER)
        newcomer = user_factory()
        client = api_client(user=caller)
        expected = (lambda ok: ok) if allowed else (lambda ok: 403)
        assert client.get("/api/v1/members/").status_code == expected(200)
        assert client.get(f"/api/v1/members/{target.pk}/").status_code == expected(200)
        added = client.post("/api/v1/members/", {"email": newcomer.email, "role": "editor"})
        assert added.status_code == expected(201)
        changed = client.patch(f"/api/v1/members/{target.pk}/", {"role": "reviewer"})
        assert changed.status_code == expected(200)
        removed = client.delete(f"/api/v1/members/{target.pk}/")
        assert removed.status_code == expected(204)
        # An invitation, not a membership: the newcomer joins only once they accept.
        assert not Membership.objects.filter(agency=agency, user=newcomer).exists()
        assert Invitation.objects.filter(agency=agency, email=newcomer.email).exists() is allowed
        assert Membership.objects.filter(pk=target.pk).exists() is not allowed

    def test_invite_with_a_bad_email_names_the_field_and_stores_nothing(self):
        agency = agency_factory()
        admin = membership_factory(agency=agency, role=Role.ADMIN).user
        response = api_client(user=admin).post(
            "/api/v1/members/", {"email": "nobody-here", "role": "viewer"}
        )
        assert response.status_code == 400
        error = _error(response)
        assert error["code"] == "invalid"
        assert list(error["fields"]) == ["email"]
        assert not Invitation.objects.exists()

    def test_bad_role_names_the_field(self):
        agency = agency_factory()
        admin = membership_factory(agency=agency, role=Role.ADMIN).user
        target = membership_factory(agency=agency)
        response = api_client(user=admin).patch(f"/api/v1/members/{target.pk}/", {"role": "god"})
        assert response.status_code == 400
        assert list(_error(response)["fields"]) == ["role"]
        target.refresh_from_db()
        assert target.role == Role.VIEWER

    def test_last_owner_is_protected_over_the_api(self):
        agency = agency_factory()
        owner = membership_factory(agency=agency, role=Role.OWNER)
        client = api_client(user=owner.user)
        demote = client.patch(f"/api/v1/members/{owner.pk}/", {"role": "admin"})
        assert demote.status_code == 409
        assert _error(demote)["code"] == "last_owner"
        remove = client.delete(f"/api/v1/members/{owner.pk}/")
        assert remove.status_code == 409
        owner.refresh_from_db()
        assert owner.role == Role.OWNER

    def test_put_is_not_offered(self):
        agency = agency_factory()
        admin = membership_factory(agency=agency, role=Role.ADMIN).user
        target = membership_factory(agency=agency)
        response = api_client(user=admin).put(f"/api/v1/members/{target.pk}/", {"role": "admin"})
        assert response.status_code == 405
        assert _error(response)["code"] == "method_not_allowed"


class TestPagination:
    def _client_with_shops(self, count):
        agency = agency_factory()
        user = membership_factory(agency=agency).user
        ids = [shop_factory(agency=agency).pk for _ in range(count)]
        return api_client(user=user), ids

    def test_cursor_pages_walk_every_row_once_in_order(self):
        client, ids = self._client_with_shops(7)
        seen, url = [], "/api/v1/shops/?page_size=3"
        pages = 0
        while url:
            body = client.get(url).json()
            assert "count" not in body
            seen += [row["id"] for row in body["results"]]
            url, pages = body["next"], pages + 1
        assert seen == sorted(ids)
        assert pages == 3

    @pytest.mark.parametrize("size", ["0", "201", "abc", "-1"])
    def test_bad_page_size_is_a_clear_400(self, size):
        client, _ = self._client_with_shops(1)
        response = client.get(f"/api/v1/shops/?page_size={size}")
        assert response.status_code == 400
        assert _error(response)["fields"] == {
            "page_size": ["Must be a whole number from 1 to 200."]
        }

    def test_bad_cursor_is_a_clear_400(self):
        client, _ = self._client_with_shops(1)
        response = client.get("/api/v1/shops/?cursor=garbage")
        assert response.status_code == 400
        assert list(_error(response)["fields"]) == ["cursor"]


def test_unknown_id_is_404_with_the_error_body():
    agency = agency_factory()
    user = membership_factory(agency=agency).user
    response = api_client(user=user).get("/api/v1/shops/999999999/")
    assert response.status_code == 404
    assert _error(response) == {"code": "not_found", "message": "Not found.", "fields": {}}


def test_throttle_is_per_key(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api": "3/min"},
    }
    agency = agency_factory()
    _, first = api_key_factory(agency=agency)
    _, second = api_key_factory(agency=agency)
    client = api_client(key=first)
    assert [client.get("/api/v1/shops/").status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get("/api/v1/shops/")
    assert limited.status_code == 429
    assert _error(limited)["code"] == "throttled"
    assert int(limited.headers["Retry-After"]) > 0
    # Another key has its own bucket.
    assert api_client(key=second).get("/api/v1/shops/").status_code == 200


def test_session_writes_need_csrf():
    from rest_framework.test import APIClient

    agency = agency_factory()
    admin = membership_factory(agency=agency, role=Role.ADMIN).user
    shop = shop_factory(agency=agency)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(f"/api/v1/shops/{shop.pk}/sync/")
    assert response.status_code == 403
    assert "CSRF" in _error(response)["message"]


@pytest.mark.parametrize(
    "sealed",
    ["get_queryset", "get_object", "initial", "permission_classes", "required_permission"],
)
def test_scoped_base_cannot_be_bypassed(sealed):
    with pytest.raises(TypeError, match=sealed):
        type(
            "Sneaky",
            (mixins.ListModelMixin, TenantScopedViewSet),
            {sealed: (lambda self: None) if sealed != "permission_classes" else []},
        )


def test_throttle_is_per_user_for_sessions(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api": "2/min"},
    }
    agency = agency_factory()
    first = membership_factory(agency=agency).user
    second = membership_factory(agency=agency).user
    client = api_client(user=first)
    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]
    assert api_client(user=second).get("/api/v1/me/").status_code == 200


def test_a_mixin_before_the_base_cannot_bypass_it_either():
    class Unscoped:
        def get_queryset(self):
            return Shop.objects.all()

    with pytest.raises(TypeError, match="get_queryset"):
        type("Sneaky", (Unscoped, mixins.ListModelMixin, TenantScopedViewSet), {})
