"""Refresh triggers: the mirror's change hook and the hourly midnight schedule."""

from datetime import UTC, datetime

from customers.hooks import customer_export_sections, mirror_changed_notify
from customers.normalize import tags_normalize
from segments.models import GroupAssignment, SegmentMembership, SegmentRefresh
from segments.services import group_set_install_built_in, segment_create, segment_refresh
from segments.tasks import relative_dates_refresh_task, shops_at_local_midnight
from segments.tests.query.mirror_data import insert_customer
from tenants.tests.factories import agency_factory, shop_factory


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
