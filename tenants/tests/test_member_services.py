import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from audit.services import audit_chain_verify
from tenants.actors import SYSTEM_ACTOR, Actor
from tenants.errors import Conflict, NotPermitted
from tenants.models import Agency, Membership
from tenants.roles import Role
from tenants.selectors import shops_visible_to
from tenants.services import (
    agency_create,
    membership_add,
    membership_remove,
    membership_role_change,
)
from tenants.tests.factories import agency_factory, shop_factory, user_factory

pytestmark = pytest.mark.django_db


def _events(agency):
    return list(AuditEvent.objects.filter(agency=agency).values_list("event", flat=True))


def test_agency_create_makes_the_owner_and_audits_both():
    owner = user_factory()
    agency = agency_create(name="Northwind Agency", owner=owner)
    assert agency.slug == "northwind-agency"
    assert Membership.objects.get(agency=agency, user=owner).role == Role.OWNER
    assert _events(agency) == ["agency.created", "member.added"]
    assert audit_chain_verify(agency_id=agency.pk) == (True, None)


@pytest.mark.parametrize(("name", "slug", "field"), [("  ", "", "name"), ("Acme", "!!!", "slug")])
def test_agency_create_rejects_bad_input(name, slug, field):
    with pytest.raises(ValidationError) as err:
        agency_create(name=name, slug=slug)
    assert field in err.value.message_dict
    assert not Agency.objects.exists()


def test_agency_create_rejects_a_taken_slug():
    agency_create(name="Acme")
    with pytest.raises(ValidationError, match="taken"):
        agency_create(name="ACME")
    assert Agency.objects.count() == 1


def test_a_user_may_belong_to_several_agencies():
    user = user_factory()
    first = agency_create(name="One", owner=user)
    second = agency_create(name="Two")
    membership_add(agency=second, user=user, role=Role.VIEWER, actor=SYSTEM_ACTOR)
    assert set(user.memberships.values_list("agency_id", "role")) == {
        (first.pk, Role.OWNER),
        (second.pk, Role.VIEWER),
    }


def test_membership_add_twice_is_a_conflict_and_changes_nothing():
    agency = agency_factory()
    user = user_factory()
    membership_add(agency=agency, user=user, role=Role.VIEWER, actor=SYSTEM_ACTOR)
    with pytest.raises(Conflict) as err:
        membership_add(agency=agency, user=user, role=Role.ADMIN, actor=SYSTEM_ACTOR)
    assert err.value.code == "already_member"
    assert Membership.objects.get(agency=agency, user=user).role == Role.VIEWER
    assert _events(agency) == ["member.added"]


def test_unknown_role_is_rejected():
    agency = agency_factory()
    with pytest.raises(ValidationError, match="not a role"):
        membership_add(agency=agency, user=user_factory(), role="emperor", actor=SYSTEM_ACTOR)
    assert not Membership.objects.filter(agency=agency).exists()


def test_last_owner_cannot_be_demoted_or_removed():
    owner = user_factory()
    agency = agency_create(name="Solo", owner=owner)
    membership = Membership.objects.get(agency=agency, user=owner)
    actor = Actor(user=owner)
    with pytest.raises(Conflict) as err:
        membership_role_change(membership=membership, role=Role.ADMIN, actor=actor)
    assert err.value.code == "last_owner"
    with pytest.raises(Conflict):
        membership_remove(membership=membership, actor=actor)
    membership.refresh_from_db()
    assert membership.role == Role.OWNER
    assert _events(agency) == ["agency.created", "member.added"]


def test_with_two_owners_one_may_step_down():
    owner, second = user_factory(), user_factory()
    agency = agency_create(name="Duo", owner=owner)
    membership_add(agency=agency, user=second, role=Role.OWNER, actor=Actor(user=owner))
    membership = Membership.objects.get(agency=agency, user=owner)
    membership_role_change(membership=membership, role=Role.ADMIN, actor=Actor(user=owner))
    assert Membership.objects.get(agency=agency, user=owner).role == Role.ADMIN
    changed = AuditEvent.objects.get(agency=agency, event="member.role_changed")
    assert changed.data == {"user_id": owner.pk, "from": "owner", "to": "admin"}
    assert changed.actor == f"user:{owner.pk}"


def test_only_owners_touch_owner_memberships():
    owner, admin, other = user_factory(), user_factory(), user_factory()
    agency = agency_create(name="Guarded", owner=owner)
    membership_add(agency=agency, user=admin, role=Role.ADMIN, actor=Actor(user=owner))
    as_admin = Actor(user=admin)
    with pytest.raises(NotPermitted):
        membership_add(agency=agency, user=other, role=Role.OWNER, actor=as_admin)
    owner_membership = Membership.objects.get(agency=agency, user=owner)
    with pytest.raises(NotPermitted):
        membership_remove(membership=owner_membership, actor=as_admin)
    admin_membership = Membership.objects.get(agency=agency, user=admin)
    with pytest.raises(NotPermitted):
        membership_role_change(membership=admin_membership, role=Role.OWNER, actor=as_admin)
    # An admin may manage non-owner roles.
    viewer = membership_add(agency=agency, user=other, role=Role.VIEWER, actor=as_admin)
    membership_role_change(membership=viewer, role=Role.EDITOR, actor=as_admin)
    membership_remove(membership=viewer, actor=as_admin)
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    assert _events(agency)[-3:] == ["member.added", "member.role_changed", "member.removed"]


def test_shops_visible_to_lists_only_the_agencys_shops():
    agency, other = agency_factory(), agency_factory()
    mine = [shop_factory(agency=agency).pk, shop_factory(agency=agency).pk]
    shop_factory(agency=other)
    assert shops_visible_to(agency=agency) == sorted(mine)
