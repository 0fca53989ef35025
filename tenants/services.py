"""Writes for agencies, members and API keys. Each records its audit event in the same transaction.

Owner protections: an agency always keeps at least one owner, and only an owner may make
someone an owner or change or remove an owner's membership.
"""

import secrets
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from audit.services import audit_event_record
from tenants.actors import SYSTEM_ACTOR, Actor
from tenants.errors import Conflict, NotPermitted
from tenants.keys import key_generate, key_hash, key_matches, key_split
from tenants.models import Agency, ApiKey, Invitation, Membership, Shop
from tenants.roles import Role

LAST_USED_WRITE_INTERVAL = timedelta(minutes=1)
INVITATION_LIFETIME = timedelta(days=7)


class ApiKeyRejected(Exception):
    """The presented API key is unknown, malformed, revoked or expired (message says which)."""


def _role_validate(role: str) -> str:
    if role not in Role.values:
        raise ValidationError(
            {"role": f"'{role}' is not a role; choose one of {', '.join(Role.values)}."},
            code="invalid_role",
        )
    return role


def _agency_lock(agency: Agency) -> Agency:
    # Serialises membership changes per agency so two owners cannot remove each other at once.
    return Agency.objects.select_for_update().get(pk=agency.pk)


def _actor_is_owner(*, agency: Agency, actor: Actor) -> bool:
    if actor.user is None and actor.api_key is None:
        return True  # the system (demo command, shell) acts with full rights
    if actor.user is None:
        return False
    if getattr(actor.user, "is_superuser", False):
        return True  # platform operators (Django admin) may fix ownership
    return Membership.objects.filter(agency=agency, user=actor.user, role=Role.OWNER).exists()


def _owner_count(agency: Agency) -> int:
    return Membership.objects.filter(agency=agency, role=Role.OWNER).count()


@transaction.atomic
def agency_create(*, name: str, slug: str = "", owner=None, actor: Actor = SYSTEM_ACTOR) -> Agency:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "An agency needs a name."}, code="required")
    slug = slugify(slug or name)
    if not slug:
        raise ValidationError({"slug": "The slug must contain letters or digits."}, code="invalid")
    if Agency.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"The slug '{slug}' is taken."}, code="unique")
    agency = Agency.objects.create(name=name, slug=slug)
    audit_event_record(
        agency_id=agency.pk,
        event="agency.created",
        target_type="agency",
        target_id=agency.pk,
        data={"slug": slug},
        **actor.audit_kwargs(),
    )
    if owner is not None:
        membership_add(agency=agency, user=owner, role=Role.OWNER, actor=actor)
    return agency


@transaction.atomic
def membership_add(*, agency: Agency, user, role: str, actor: Actor) -> Membership:
    _role_validate(role)
    agency = _agency_lock(agency)
    if role == Role.OWNER and not _actor_is_owner(agency=agency, actor=actor):
        raise NotPermitted("Only an owner can make someone an owner.", code="owner_required")
    if Membership.objects.filter(agency=agency, user=user).exists():
        raise Conflict("This user is already a member of the agency.", code="already_member")
    membership = Membership.objects.create(agency=agency, user=user, role=role)
    audit_event_record(
        agency_id=agency.pk,
        event="member.added",
        target_type="membership",
        target_id=membership.pk,
        data={"user_id": user.pk, "role": role},
        **actor.audit_kwargs(),
    )
    return membership


def invitation_accept_path(token: str) -> str:
    return f"/invitations/{token}/accept/"


@transaction.atomic
def membership_invite(
    *, agency: Agency, email: str, role: str, actor: Actor
) -> tuple[Invitation, str]:
    """Record an invitation to `email`; returns it and the one-time accept path (never stored).

    Nobody is attached here, whoever owns the address: the invitee accepts it themselves. The
    outcome is the same whether or not an account uses the email, so callers learn nothing.
    """
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            {"email": f"'{email}' is not an email address."}, code="invalid"
        ) from None
    _role_validate(role)
    agency = _agency_lock(agency)
    if role == Role.OWNER and not _actor_is_owner(agency=agency, actor=actor):
        raise NotPermitted("Only an owner can make someone an owner.", code="owner_required")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        agency=agency,
        email=email,
        role=role,
        token_hash=key_hash(token),
        expires_at=timezone.now() + INVITATION_LIFETIME,
        invited_by=actor.user,
    )
    audit_event_record(
        agency_id=agency.pk,
        event="member.invited",
        target_type="invitation",
        target_id=invitation.pk,
        data={"invitation_id": invitation.pk, "role": role},
        **actor.audit_kwargs(),
    )
    return invitation, invitation_accept_path(token)


def invitation_pending(token: str) -> Invitation | None:
    """The open invitation the token opens, or None (unknown, accepted or expired)."""
    return (
        Invitation.objects.select_related("agency")
        .filter(token_hash=key_hash(token), accepted_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def invitation_is_for(invitation: Invitation, user) -> bool:
    return bool(user.email) and user.email.strip().lower() == invitation.email.strip().lower()


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    """`user` (whose email the invitation names) takes the offered role; the token is spent."""
    invitation = invitation_pending(token)
    if invitation is None:
        raise Conflict("This invitation is not valid any more.", code="invitation_invalid")
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise Conflict("This invitation is not valid any more.", code="invitation_invalid")
    if not invitation_is_for(invitation, user):
        raise NotPermitted(
            "This invitation was sent to another email address.", code="invitation_other_email"
        )
    agency = _agency_lock(invitation.agency)
    membership = Membership.objects.filter(agency=agency, user=user).first()
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    if membership is not None:
        return membership  # already a member: the invitation is spent, the role stays
    membership = Membership.objects.create(agency=agency, user=user, role=invitation.role)
    audit_event_record(
        agency_id=agency.pk,
        event="member.added",
        target_type="membership",
        target_id=membership.pk,
        data={"user_id": user.pk, "role": invitation.role, "invitation_id": invitation.pk},
        **Actor(user=user).audit_kwargs(),
    )
    return membership


@transaction.atomic
def invitation_sign_up(*, token: str, username: str, password: str) -> Membership:
    """Create the invitee's account (with the invited email) and accept in one step."""
    invitation = invitation_pending(token)
    if invitation is None:
        raise Conflict("This invitation is not valid any more.", code="invitation_invalid")
    user = get_user_model().objects.create_user(
        username=username, email=invitation.email, password=password
    )
    return invitation_accept(token=token, user=user)


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str, actor: Actor) -> Membership:
    _role_validate(role)
    agency = _agency_lock(membership.agency)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    old_role = membership.role
    if old_role == role:
        return membership
    if Role.OWNER in (old_role, role) and not _actor_is_owner(agency=agency, actor=actor):
        raise NotPermitted(
            "Only an owner can grant or change an owner's role.", code="owner_required"
        )
    if old_role == Role.OWNER and _owner_count(agency) == 1:
        raise Conflict(
            "The last owner cannot be demoted; make another owner first.", code="last_owner"
        )
    membership.role = role
    membership.save(update_fields=["role"])
    audit_event_record(
        agency_id=agency.pk,
        event="member.role_changed",
        target_type="membership",
        target_id=membership.pk,
        data={"user_id": membership.user_id, "from": old_role, "to": role},
        **actor.audit_kwargs(),
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Actor) -> None:
    agency = _agency_lock(membership.agency)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER:
        if not _actor_is_owner(agency=agency, actor=actor):
            raise NotPermitted("Only an owner can remove an owner.", code="owner_required")
        if _owner_count(agency) == 1:
            raise Conflict("The last owner cannot be removed.", code="last_owner")
    membership_id, user_id, role = membership.pk, membership.user_id, membership.role
    membership.delete()
    audit_event_record(
        agency_id=agency.pk,
        event="member.removed",
        target_type="membership",
        target_id=membership_id,
        data={"user_id": user_id, "role": role},
        **actor.audit_kwargs(),
    )


@transaction.atomic
def api_key_create(
    *,
    agency: Agency,
    name: str,
    scope: str = ApiKey.Scope.READ,
    expires_at: datetime | None = None,
    actor: Actor,
) -> tuple[ApiKey, str]:
    """Issue a key; returns the row and the plain `prefix.secret`, which is never stored."""
    name = (name or "").strip()
    errors = {}
    name_max = ApiKey._meta.get_field("name").max_length
    if not name:
        errors["name"] = "A key needs a name saying which program uses it."
    elif len(name) > name_max:
        errors["name"] = f"The name must be at most {name_max} characters (it has {len(name)})."
    if scope not in ApiKey.Scope.values:
        errors["scope"] = f"'{scope}' is not a scope; choose read or write."
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "The expiry must be in the future."
    if errors:
        raise ValidationError(errors, code="invalid")
    prefix, plain_key = key_generate()
    api_key = ApiKey.objects.create(
        agency=agency,
        name=name,
        prefix=prefix,
        secret_hash=key_hash(plain_key),
        scope=scope,
        expires_at=expires_at,
        created_by=actor.user,
    )
    audit_event_record(
        agency_id=agency.pk,
        event="api_key.created",
        target_type="api_key",
        target_id=api_key.pk,
        data={"prefix": prefix, "scope": scope, "expires_at": expires_at},
        **actor.audit_kwargs(),
    )
    return api_key, plain_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    """Revoke at once; revoking a revoked key changes nothing."""
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        return api_key
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit_event_record(
        agency_id=api_key.agency_id,
        event="api_key.revoked",
        target_type="api_key",
        target_id=api_key.pk,
        data={"prefix": api_key.prefix},
        **actor.audit_kwargs(),
    )
    return api_key


def api_key_authenticate(*, raw_key: str) -> ApiKey:
    """The active key for this plain value, or ApiKeyRejected. Notes the use (once a minute)."""
    parts = key_split(raw_key.strip())
    if parts is None:
        raise ApiKeyRejected("Malformed API key; expected 'Bearer <prefix>.<secret>'.")
    prefix, plain_key = parts
    api_key = ApiKey.objects.select_related("agency").filter(prefix=prefix).first()
    if api_key is None or not key_matches(plain_key, api_key.secret_hash):
        raise ApiKeyRejected("Unknown API key.")
    now = timezone.now()
    if api_key.revoked_at is not None:
        raise ApiKeyRejected("This API key has been revoked.")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise ApiKeyRejected("This API key has expired.")
    _api_key_note_use(api_key=api_key, now=now)
    return api_key


def _api_key_note_use(*, api_key: ApiKey, now: datetime) -> None:
    if api_key.last_used_at is not None and api_key.last_used_at > now - LAST_USED_WRITE_INTERVAL:
        return  # fresh enough: no statement at all
    # Conditional, so of many concurrent requests at most one per minute writes.
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_WRITE_INTERVAL)
    if ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now):
        api_key.last_used_at = now


def shop_sync_request(*, shop: Shop, kind: str = "full", actor: Actor):
    """Ask the customer mirror for a sync of this shop; returns its SyncRun (queued on commit).

    The mirror records the request (audit `shop.sync_requested`) and queues its task.
    """
    if shop.status != Shop.Status.INSTALLED:
        raise Conflict(
            "The shop is uninstalled; reinstall it before syncing.", code="shop_uninstalled"
        )
    # Imported here: customers depends on tenants, not the other way round at import time.
    from customers.sync import sync_run_request

    return sync_run_request(shop=shop, kind=kind, actor=actor.label)
