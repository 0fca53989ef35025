"""Writing to the audit log. Call inside the transaction of the change being recorded."""

import hashlib
import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.events import EVENTS
from audit.models import AuditChainHead, AuditEvent

SYSTEM = "system"
SHOPIFY = "shopify"


def event_hash(*, prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _hashed_fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "agency_id": event.agency_id,
        "seq": event.seq,
        "shop_id": event.shop_id,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor,
        "actor_user_id": event.actor_user_id,
        "event": event.event,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "data": event.data,
    }


def actor_label(user=None, *, api_key_prefix: str | None = None, default: str = SYSTEM) -> str:
    if api_key_prefix:
        return f"api_key:{api_key_prefix}"
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    return default


@transaction.atomic
def audit_event_record(
    *,
    agency_id: int,
    event: str,
    actor: str = SYSTEM,
    actor_user=None,
    shop_id: int | None = None,
    target_type: str = "",
    target_id: str | int = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the agency's chain. `data` must hold ids and field names only."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}; add it to audit/events.py")
    head, _ = AuditChainHead.objects.get_or_create(agency_id=agency_id)
    head = AuditChainHead.objects.select_for_update().get(pk=head.pk)
    record = AuditEvent(
        agency_id=agency_id,
        seq=head.seq + 1,
        shop_id=shop_id,
        occurred_at=timezone.now(),
        actor=actor,
        actor_user=actor_user if getattr(actor_user, "pk", None) else None,
        event=event,
        target_type=target_type,
        target_id=str(target_id),
        data=json.loads(json.dumps(data or {}, default=str)),
        prev_hash=head.last_hash,
    )
    record.hash = event_hash(prev_hash=record.prev_hash, fields=_hashed_fields(record))
    record.save()
    head.seq, head.last_hash = record.seq, record.hash
    head.save(update_fields=["seq", "last_hash"])
    return record


def audit_chain_verify(*, agency_id: int) -> tuple[bool, int | None]:
    """Walk the agency's chain; return (ok, seq of the first broken link or None)."""
    prev = "0" * 64
    expected_seq = 1
    for record in AuditEvent.objects.filter(agency_id=agency_id).order_by("seq").iterator():
        if record.seq != expected_seq or record.prev_hash != prev:
            return False, expected_seq
        if event_hash(prev_hash=prev, fields=_hashed_fields(record)) != record.hash:
            return False, record.seq
        prev, expected_seq = record.hash, expected_seq + 1
    head = AuditChainHead.objects.filter(agency_id=agency_id).first()
    if head and (head.seq != expected_seq - 1 or head.last_hash != prev):
        return False, expected_seq
    return True, None
