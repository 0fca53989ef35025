import pytest

from audit.models import AuditEvent
from audit.services import audit_chain_verify, audit_event_record
from tenants.tests.factories import agency_factory


@pytest.mark.django_db
def test_chain_verifies_and_detects_tampering():
    agency = agency_factory()
    other = agency_factory()
    for i in range(3):
        audit_event_record(
            agency_id=agency.pk, event="shop.sync_requested", target_type="shop", target_id=i
        )
    audit_event_record(agency_id=other.pk, event="agency.created")
    assert audit_chain_verify(agency_id=agency.pk) == (True, None)
    assert list(AuditEvent.objects.filter(agency=agency).values_list("seq", flat=True)) == [1, 2, 3]

    AuditEvent.objects.filter(agency=agency, seq=2).update(data={"edited": True})
    assert audit_chain_verify(agency_id=agency.pk) == (False, 2)
    assert audit_chain_verify(agency_id=other.pk) == (True, None)


@pytest.mark.django_db
def test_deleted_event_breaks_chain():
    agency = agency_factory()
    for _ in range(3):
        audit_event_record(agency_id=agency.pk, event="agency.created")
    AuditEvent.objects.filter(agency=agency, seq=3).delete()
    ok, _ = audit_chain_verify(agency_id=agency.pk)
    assert not ok


@pytest.mark.django_db
def test_unknown_event_is_refused_and_writes_nothing():
    agency = agency_factory()
    with pytest.raises(ValueError, match="unknown audit event"):
        audit_event_record(agency_id=agency.pk, event="made.up")
    assert not AuditEvent.objects.exists()
