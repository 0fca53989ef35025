"""Adding a member is an invitation the invitee accepts; it never attaches someone else's account."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from tenants.actors import Actor
from tenants.models import Invitation, Membership
from tenants.roles import Role
from tenants.services import membership_invite
from tenants.tests.factories import agency_factory, api_client, membership_factory, user_factory

pytestmark = pytest.mark.django_db


def _invite(client, email, role="admin"):
    return client.post("/api/v1/members/", {"email": email, "role": role})


def _accept_path(response) -> str:
    return "/" + response.json()["accept_url"].split("/", 3)[3]


def test_another_agencys_admin_is_not_attached_and_the_answer_reveals_nothing():
    agency_a, agency_b = agency_factory(), agency_factory()
    attacker = membership_factory(agency=agency_a, role=Role.ADMIN).user
    victim = user_factory(username="b-admin-login")
    membership_factory(agency=agency_b, user=victim, role=Role.ADMIN)
    client = api_client(user=attacker)

    existing = _invite(client, victim.email)
    missing = _invite(client, "no-such-person@example.com")

    assert existing.status_code == missing.status_code == 201
    one, other = existing.json(), missing.json()
    assert set(one) == set(other) == {"detail", "email", "role", "expires_at", "accept_url"}
    assert one["detail"] == other["detail"]
    assert victim.username not in existing.content.decode()
    assert "id" not in one and "user" not in one
    # The victim keeps exactly their own membership, and their API calls still need no X-Agency.
    assert list(Membership.objects.filter(user=victim).values_list("agency_id", flat=True)) == [
        agency_b.pk
    ]
    assert api_client(user=victim).get("/api/v1/shops/").status_code == 200
    events = AuditEvent.objects.filter(agency=agency_a, event="member.invited")
    assert events.count() == 2
    assert all(victim.email not in str(e.data) for e in events)


def test_the_invitee_accepts_logged_in_and_the_link_is_spent():
    agency = agency_factory()
    admin = membership_factory(agency=agency, role=Role.ADMIN).user
    invitee = user_factory()
    path = _accept_path(_invite(api_client(user=admin), invitee.email, role="editor"))
    assert Invitation.objects.get().token_hash not in path  # only the hash is stored

    browser = Client()
    browser.force_login(invitee)
    page = browser.get(path)
    assert page.status_code == 200 and agency.name in page.content.decode()
    assert not Membership.objects.filter(
        agency=agency, user=invitee
    ).exists()  # GET changes nothing
    assert browser.post(path, {"action": "accept"}).status_code == 302

    membership = Membership.objects.get(agency=agency, user=invitee)
    assert membership.role == Role.EDITOR
    assert AuditEvent.objects.filter(agency=agency, event="member.added").count() == 1
    assert browser.get(path).status_code == 404
    assert browser.post(path, {"action": "accept"}).status_code == 404


def test_someone_else_cannot_accept_and_nothing_changes():
    agency = agency_factory()
    admin = membership_factory(agency=agency, role=Role.ADMIN).user
    invitee, intruder = user_factory(), user_factory()
    path = _accept_path(_invite(api_client(user=admin), invitee.email))
    browser = Client()
    browser.force_login(intruder)
    refused = browser.post(path, {"action": "accept"})
    assert refused.status_code == 403
    assert "another email address" in refused.content.decode()
    assert not Membership.objects.filter(agency=agency, user=intruder).exists()
    assert Invitation.objects.get().accepted_at is None


def test_a_newcomer_signs_up_on_the_accept_page():
    agency = agency_factory()
    admin = membership_factory(agency=agency, role=Role.ADMIN).user
    path = _accept_path(_invite(api_client(user=admin), "newcomer@example.com", role="viewer"))
    browser = Client()
    page = browser.get(path)
    assert page.status_code == 200 and 'id="login"' in page.content.decode()

    mismatch = browser.post(
        path, {"username": "newcomer", "password1": "a-long-pass-1", "password2": "other-pass-2"}
    )
    assert mismatch.status_code == 400
    assert not Membership.objects.filter(agency=agency, user__username="newcomer").exists()

    joined = browser.post(
        path, {"username": "newcomer", "password1": "a-long-pass-1", "password2": "a-long-pass-1"}
    )
    assert joined.status_code == 302
    membership = Membership.objects.get(agency=agency, user__username="newcomer")
    assert membership.user.email == "newcomer@example.com" and membership.role == Role.VIEWER
    assert browser.get("/api/v1/me/").json()["user"]["username"] == "newcomer"


def test_an_expired_or_unknown_invitation_answers_404():
    agency = agency_factory()
    invitee = user_factory()
    _, path = membership_invite(agency=agency, email=invitee.email, role=Role.VIEWER, actor=Actor())
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    browser = Client()
    browser.force_login(invitee)
    assert browser.post(path, {"action": "accept"}).status_code == 404
    assert browser.get("/invitations/not-a-token/accept/").status_code == 404
    assert not Membership.objects.filter(user=invitee).exists()


def test_only_an_owner_invites_an_owner():
    agency = agency_factory()
    admin = membership_factory(agency=agency, role=Role.ADMIN).user
    response = _invite(api_client(user=admin), "boss@example.com", role="owner")
    assert response.status_code == 403
    assert not Invitation.objects.exists()
