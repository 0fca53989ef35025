"""Every change of a sync run's status is audited (ARCHITECTURE.md): started, succeeded,
failed, skipped (another sync was running), abandoned (by the janitor); tenant-scoped, with
the run's kind, counts and error's first line, in a chain that still verifies."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.services import audit_chain_verify
from customers import partition_build, tasks
from customers.models import SyncRun
from customers.sync import shop_delta_sync, shop_full_sync
from customers.sync_tables import sync_tables_janitor
from customers.tests.sandbox_compare import shop_for
from customers.tests.test_sync import Crash, CrashingSource, store
from customers.tests.test_sync_busy import OtherSessionSyncing
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db(transaction=True)
COUNTS = ("read", "created", "updated", "deleted", "progress_done", "progress_total")


def run_events(run: SyncRun) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(target_type="sync_run", target_id=str(run.id))
        .exclude(event="shop.sync_requested")
        .order_by("seq")
    )


def assert_scoped(events: list[AuditEvent], run: SyncRun) -> None:
    for event in events:
        assert (event.agency_id, event.shop_id) == (run.shop.agency_id, run.shop_id)
        assert event.actor == "system" and event.data["kind"] == run.kind
        assert set(COUNTS) <= set(event.data)
    assert audit_chain_verify(agency_id=run.shop.agency_id) == (True, None)


class QuotingCrashingSource(CrashingSource):
    """Its crash's message quotes a value on its first line and a row on the second, as a
    database error's message and detail do."""

    def lines(self, url):
        try:
            yield from super().lines(url)
        except Crash:
            raise Crash(
                'worker killed on "ada@example.com"\nDETAIL: Failing row contains (ada@example.com)'
            ) from None


def test_a_full_sync_records_its_start_and_its_success_with_the_counts(tmp_path):
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    other = shop_factory(agency=agency_factory())
    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 12), batch_size=5)
    run.refresh_from_db()
    events = run_events(run)
    assert [e.event for e in events] == ["sync_run.started", "sync_run.succeeded"]
    assert_scoped(events, run)
    assert events[0].data["resumed"] is False and events[0].data["status"] == "running"
    done = events[1].data
    assert done["status"] == "succeeded" and "error" not in done
    assert (done["read"], done["created"], done["deleted"]) == (24, 24, 0)
    assert done["read"] == run.records_read and done["created"] == run.records_created
    assert not AuditEvent.objects.filter(agency_id=other.agency_id).exists()


def test_a_crashed_full_sync_records_the_failure_and_its_resume(tmp_path):
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    source = store(tmp_path, 20)
    crashing = QuotingCrashingSource(source.paths, phase="orders", at_line=15)
    with pytest.raises(Exception, match="worker killed"):  # the orders' loader's, or its own
        shop_full_sync(shop_id=shop.id, source=crashing, batch_size=4)
    failed = SyncRun.all_shops.get(shop=shop)
    events = run_events(failed)
    assert [e.event for e in events] == ["sync_run.started", "sync_run.failed"]
    assert events[1].data["status"] == "failed"
    assert events[1].data["error"] == failed.error.split(":", 1)[0]
    assert events[1].data["error"].isidentifier()  # the exception's class, not its message
    assert "worker killed" in failed.error and "worker killed" not in json.dumps(events[1].data)
    assert "ada@example.com" not in json.dumps(events[1].data)
    assert "ada@example.com" in failed.error  # the run's row has it all; the log does not
    assert events[1].data["read"] == failed.records_read

    resumed = shop_full_sync(shop_id=shop.id, source=source, batch_size=4)
    assert resumed.id == failed.id
    events = run_events(resumed)
    assert [e.event for e in events][2:] == ["sync_run.started", "sync_run.succeeded"]
    assert events[2].data["resumed"] is True
    resumed.refresh_from_db()
    assert events[3].data["read"] == resumed.records_read == 40
    assert_scoped(events, resumed)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks")
def test_a_request_meeting_a_running_sync_records_the_skip():
    shop = shop_factory(agency=agency_factory())
    SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL, status=SyncRun.Status.RUNNING)
    run = SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL, requested_by="tests")
    with OtherSessionSyncing(shop.id):
        assert tasks.shop_full_sync_task(shop.id, run.id) == 0
    run.refresh_from_db()
    events = run_events(run)
    assert [e.event for e in events] == ["sync_run.skipped"]
    assert events[0].data["status"] == "failed"
    assert events[0].data["error"] == "Not run"
    assert "already running" in run.error  # the reason itself: on the run's row
    assert_scoped(events, run)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="staged full sync")
def test_the_janitor_records_the_runs_it_abandons(tmp_path, monkeypatch):
    shop = shop_factory(agency=agency_factory(), country_code="DE")

    def crash(**kwargs):
        raise Crash("killed while building")

    monkeypatch.setattr(partition_build, "orders_build", crash)
    with pytest.raises(Exception, match="killed while building"):
        shop_full_sync(shop_id=shop.id, source=store(tmp_path, 6))
    monkeypatch.undo()
    run = SyncRun.all_shops.get(shop=shop)
    assert run.id not in sync_tables_janitor(abandoned_after=timedelta(hours=1))
    assert [e.event for e in run_events(run)] == ["sync_run.started", "sync_run.failed"]

    assert run.id in sync_tables_janitor(abandoned_after=timedelta(0))
    run.refresh_from_db()
    events = run_events(run)
    assert [e.event for e in events] == [
        "sync_run.started",
        "sync_run.failed",
        "sync_run.abandoned",
    ]
    abandoned = events[2].data
    assert abandoned["left_as"] == "failed" and abandoned["abandoned_after_hours"] == 0
    assert abandoned["tables_dropped"] >= 1
    assert abandoned["error"] == "abandoned"
    assert run.error.startswith("abandoned: nothing ran it for")
    assert_scoped(events, run)


def test_a_delta_records_its_start_and_its_success_or_failure(sandbox_store):
    shop = shop_for(sandbox_store, country_code="DE")
    SyncRun.all_shops.create(
        shop=shop, kind="full", status="succeeded", high_water_mark=datetime(2020, 1, 1, tzinfo=UTC)
    )
    sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
    run = shop_delta_sync(shop_id=shop.id)
    events = run_events(run)
    assert [e.event for e in events] == ["sync_run.started", "sync_run.succeeded"]
    assert events[1].data["created"] == 1 and events[1].data["read"] == run.records_read >= 1
    assert_scoped(events, run)

    # Shopify refuses the shop's token: the delta fails, and says so in the log.
    wrong = shop_factory(
        agency=shop.agency,
        domain="wrong-" + sandbox_store.domain,
        token="shpat_not_the_token",
        api_base_url=sandbox_store.base_url,
    )
    SyncRun.all_shops.create(
        shop=wrong,
        kind="full",
        status="succeeded",
        high_water_mark=datetime(2020, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(Exception):  # whichever error the client raises
        shop_delta_sync(shop_id=wrong.id)
    failed = SyncRun.all_shops.get(shop=wrong, kind="delta")
    events = run_events(failed)
    assert [e.event for e in events] == ["sync_run.started", "sync_run.failed"]
    assert events[1].data["error"] == failed.error.split(":", 1)[0]
    assert events[1].data["error"].isidentifier()
    assert_scoped(events, failed)
