"""django-q2 entry points of the tenants app: take ids, call a service."""

from audit.services import audit_chain_verify


def agency_audit_verify_task(agency_id: int) -> dict:
    """Verify an agency's audit chain off the request path; the result is stored on the task."""
    ok, broken_at = audit_chain_verify(agency_id=agency_id)
    return {"agency_id": agency_id, "ok": ok, "broken_at": broken_at}
