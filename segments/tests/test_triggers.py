"""Refresh triggers: the mirror's change hook and the hourly midnight schedule."""

from datetime import UTC, datetime

from django.utils import timezone

from customers.hooks import customer_export_sections, mirror_changed_notify
from customers.normalize import tags_normalize
from merges.models import DuplicateCandidate
from segments.models import GroupAssignment, MembershipEvent, SegmentMembership, SegmentRefresh
from segments.services import group_set_install_built_in, segment_create, segment_refresh
from segments.tasks import relative_dates_refresh_task, shops_at_local_midnight
from segments.tests.query.mirror_data import insert_customer
from tenants.roles import Role
from tenants.tests.factories import (
    agency_factory,
    api_client,
    membership_factory,
    shop_factory,
    user_factory,
)


def test_mirror_change_refreshes_scores_groups_and_segments(db, django_capture_on_commit_callbacks):
    agency = agency_factory()
    shop = shop_factory(agency=agency)
    customer = insert_customer(shop, {"tags": []})
    segment = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", all_shops=True
    )
    lifecycle = group_set_install_built_in(agency=agency, kind="lifecycle")
    customer.tags, customer.tags_normalized = ["vip"], tags_normalize(["vip"])
    customer.save()

    with django_capture_on_commit_callbacks(execute=True):  # hooks run after commit
        mirror_changed_notify(shop_id=shop.pk, customer_ids=None, reason="full_sync")

    assert SegmentMembership.all_shops.filter(segment=segment, customer=customer).exists()
    assert (
        GroupAssignment.all_shops.get(group_set=lifecycle, customer=customer).group_slug
        == "prospects"
    )
    assert customer_export_sections(shop_id=shop.pk, customer_id=customer.pk) == {
        "segments": ["VIP"],
        "groups": ["lifecycle:prospects"],
    }


def test_relative_segments_refresh_when_the_shop_day_begins(db):
    agency = agency_factory()
    paris = shop_factory(agency=agency, timezone="Europe/Paris")
    tokyo = shop_factory(agency=agency, timezone="Asia/Tokyo")
    relative = segment_create(
        agency=agency, name="Recent", query="last_order_date >= -7d", shop_ids=[paris.pk]
    )
    fixed = segment_create(
        agency=agency, name="Old", query="last_order_date < 2020-01-01", shop_ids=[paris.pk]
    )
    segment_refresh(segment_id=relative.pk)
    segment_refresh(segment_id=fixed.pk)

    paris_midnight = datetime(2024, 6, 1, 22, 30, tzinfo=UTC)  # 00:30 in Paris, 07:30 in Tokyo
    assert shops_at_local_midnight(paris_midnight) == [paris.pk]
    assert relative_dates_refresh_task(paris_midnight) == [relative.pk]
    assert SegmentRefresh.objects.filter(segment=relative, reason="schedule").count() == 1
    assert not SegmentRefresh.objects.filter(segment=fixed, reason="schedule").exists()
    assert relative_dates_refresh_task(datetime(2024, 6, 1, 12, tzinfo=UTC)) == []
    assert tokyo.pk not in shops_at_local_midnight(paris_midnight)


def test_dismissing_a_duplicate_candidate_refreshes_duplicate_status_segments(
    db, django_capture_on_commit_callbacks
):
    """Through the reviewer API: the dismissal moves its members from OPEN to DISMISSED in the
    segments that read duplicate_status, and only those segments run."""
    agency = agency_factory()
    shop = shop_factory(agency=agency)
    alice, bob, carol = (insert_customer(shop, {"email": f"{n}@example.com"}) for n in "abc")
    candidate = DuplicateCandidate.all_shops.create(
        shop=shop,
        members=sorted([alice.pk, bob.pk]),
        probability=0.97,
        tier="high",
        detector_version="test",
        detected_at=timezone.now(),
    )
    open_ones = segment_create(
        agency=agency, name="Open", query="duplicate_status = 'OPEN'", all_shops=True
    )
    dismissed = segment_create(
        agency=agency, name="Dismissed", query="duplicate_status = 'DISMISSED'", all_shops=True
    )
    tagged = segment_create(
        agency=agency, name="Tagged", query="customer_tags CONTAINS 'x'", all_shops=True
    )
    for segment in (open_ones, dismissed, tagged):
        segment_refresh(segment_id=segment.pk)
    assert members(open_ones) == {alice.pk, bob.pk} and members(dismissed) == set()
    reviewer = user_factory()
    membership_factory(agency=agency, user=reviewer, role=Role.REVIEWER)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(user=reviewer).post(
            f"/api/v1/duplicates/{candidate.pk}/dismiss/", {"reason": "twins"}, format="json"
        )
    assert response.status_code == 200, response.content

    assert members(open_ones) == set()
    assert members(dismissed) == {alice.pk, bob.pk}
    assert carol.pk not in members(dismissed)
    run = SegmentRefresh.objects.filter(segment=dismissed).first()
    assert (run.reason, run.entered, run.exited, run.members) == ("data", 2, 0, 2)
    assert not SegmentRefresh.objects.filter(segment=tagged, reason="data").exists()
    entered = MembershipEvent.all_shops.filter(segment=dismissed, kind="entered")
    assert set(entered.values_list("customer_id", flat=True)) == {alice.pk, bob.pk}


def members(segment) -> set[int]:
    return set(
        SegmentMembership.all_shops.filter(segment=segment).values_list("customer_id", flat=True)
    )


def test_duplicate_scans_and_checks_refresh_duplicate_status_segments(
    db, django_capture_on_commit_callbacks
):
    """A full scan and an incremental check change who has an open candidate: segments reading
    duplicate_status follow, segments reading anything else do not run."""
    from merges.incremental import duplicates_check_customers
    from merges.services import duplicates_find
    from merges.tests.stores import load_generated
    from merges.tests.test_mirror_hook import copy_of, well_known

    agency = agency_factory()
    shop = shop_factory(agency=agency, country_code="DE")
    load_generated(shop, count=500, seed=21)
    open_ones = segment_create(
        agency=agency, name="Open", query="duplicate_status = 'OPEN'", all_shops=True
    )
    tagged = segment_create(
        agency=agency, name="Tagged", query="customer_tags CONTAINS 'x'", all_shops=True
    )
    for segment in (open_ones, tagged):
        segment_refresh(segment_id=segment.pk)
    assert members(open_ones) == set()  # nothing scanned yet

    with django_capture_on_commit_callbacks(execute=True):
        duplicates_find(shop_id=shop.pk, full=True)
    proposed = {
        m
        for ms in DuplicateCandidate.all_shops.filter(shop=shop, status="open").values_list(
            "members", flat=True
        )
        for m in ms
    }
    assert proposed and members(open_ones) == proposed

    original = well_known(shop, 0)
    assert original.pk not in members(open_ones)
    with django_capture_on_commit_callbacks(execute=True):
        copy = copy_of(shop, original, shopify_id=990_000_001)
    with django_capture_on_commit_callbacks(execute=True):
        duplicates_check_customers(shop_id=shop.pk, customer_ids=[copy.pk])
    assert {original.pk, copy.pk} <= members(open_ones)
    assert members(open_ones) == proposed | {original.pk, copy.pk}
    assert not SegmentRefresh.objects.filter(segment=tagged, reason="data").exists()
