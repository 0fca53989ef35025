"""Materialised membership: atomic refreshes that write the entered/exited ledger, snapshots.

A full refresh computes the matching customers once into a temporary table (INSERT ... SELECT
of the compiled query, all inside the database), diffs it against the current members in one
full join, then in one transaction writes `entered` and `exited` ledger rows and applies the
same difference to SegmentMembership, set-based. An incremental refresh does the same for a
known list of changed customers. Readers see the old
membership or the new one, never half of it; concurrent refreshes of one segment queue on its
row lock.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_event_record
from notifications.emit import segment_changed_queue
from segments.models import (
    MembershipEvent,
    Segment,
    SegmentMembership,
    SegmentRefresh,
    Snapshot,
    SnapshotMember,
)
from segments.query.serialise import from_dict
from segments.selectors import matching_customers, segment_shops
from tenants.actors import SYSTEM_ACTOR, Actor
from tenants.scoping import shop_scope

_LEDGER = MembershipEvent._meta.db_table
REPLAN_AFTER = 50_000
_MEMBERS = SegmentMembership._meta.db_table


def _matching_sql(segment: Segment, now: datetime) -> tuple[str, list]:
    shops = segment_shops(segment)
    if not shops:
        return "SELECT shop_id, id FROM customers_customer WHERE 1 = 0", []
    with shop_scope([s.pk for s in shops]):
        matching = matching_customers(root=from_dict(segment.parsed), shops=shops, now=now)
        try:
            sql, params = matching.order_by().values_list("shop_id", "pk").query.sql_with_params()
        except EmptyResultSet:
            return "SELECT shop_id, id FROM customers_customer WHERE 1 = 0", []
    return sql, list(params)


def segment_refresh(
    *,
    segment_id: int,
    reason: str = "manual",
    now: datetime | None = None,
    actor: Actor = SYSTEM_ACTOR,
) -> SegmentRefresh:
    """Bring the segment's membership up to date and record who entered and who exited.
    `actor`: the person or key who asked for it (the system for triggered refreshes)."""
    now = now or timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic():
        segment = Segment.objects.select_for_update().select_related("agency").get(pk=segment_id)
        run = SegmentRefresh.objects.create(segment=segment, reason=reason, started_at=now)
        select_sql, params = _matching_sql(segment, now)
        matching = connection.ops.quote_name(f"segment_matching_{run.pk}")
        diff = connection.ops.quote_name(f"segment_diff_{run.pk}")
        # Table names come from model metadata and the run id; values travel as parameters.
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {matching} (shop_id bigint, id bigint, entered boolean)"
            )
            cursor.execute(
                f"INSERT INTO {matching} (shop_id, id, entered) SELECT *, TRUE FROM ({select_sql}) q",  # noqa: S608
                params,
            )
            members = cursor.rowcount
            cursor.execute(
                f"SELECT 1 FROM {_MEMBERS} WHERE segment_id = %s LIMIT 1",  # noqa: S608
                [segment.pk],
            )
            if cursor.fetchone() is None:  # first refresh: everyone enters, no diff to compute
                cursor.execute(f"ALTER TABLE {matching} RENAME TO {diff}")
                cursor.execute(f"CREATE TEMPORARY TABLE {matching} (id bigint)")
            else:
                cursor.execute(f"ANALYZE {matching}")
                # One pass over the new and the current members: who entered, who exited.
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {diff} AS"  # noqa: S608
                    " SELECT COALESCE(t.shop_id, m.shop_id) AS shop_id,"
                    " COALESCE(t.id, m.customer_id) AS id, t.id IS NOT NULL AS entered"
                    f" FROM {matching} t FULL JOIN"
                    f" (SELECT shop_id, customer_id FROM {_MEMBERS} WHERE segment_id = %s) m"
                    " ON m.customer_id = t.id WHERE t.id IS NULL OR m.customer_id IS NULL",
                    [segment.pk],
                )
            # Rows in id order: index inserts append at the right edge of each b-tree.
            cursor.execute(
                f"INSERT INTO {_LEDGER} (shop_id, segment_id, customer_id, kind, occurred_at, refresh_id)"  # noqa: S608
                " SELECT shop_id, %s, id, CASE WHEN entered THEN 'entered' ELSE 'exited' END, %s, %s"
                f" FROM {diff} ORDER BY id",
                [segment.pk, at, run.pk],
            )
            cursor.execute(f"SELECT COUNT(*) FILTER (WHERE entered) FROM {diff}")  # noqa: S608
            entered = cursor.fetchone()[0]
            cursor.execute(
                f"DELETE FROM {_MEMBERS} WHERE segment_id = %s AND customer_id IN"  # noqa: S608
                f" (SELECT id FROM {diff} WHERE NOT entered)",
                [segment.pk],
            )
            exited = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {_MEMBERS} (shop_id, segment_id, customer_id, entered_at)"  # noqa: S608
                f" SELECT shop_id, %s, id, %s FROM {diff} WHERE entered ORDER BY id",
                [segment.pk, at],
            )
            cursor.execute(f"DROP TABLE {matching}")
            cursor.execute(f"DROP TABLE {diff}")
            if entered + exited >= REPLAN_AFTER:
                # Fresh statistics commit with the rows, so the next members page plans for
                # the new size (with stale ones a page went from ~2 ms to ~2 s at 1,000,000)
                # instead of waiting for autovacuum.
                cursor.execute(f"ANALYZE {_MEMBERS}")
        run.entered, run.exited, run.members, run.finished_at = (
            entered,
            exited,
            members,
            timezone.now(),
        )
        run.save(update_fields=["entered", "exited", "members", "finished_at"])
        segment.last_refreshed_at, segment.members = now, members
        segment.save(update_fields=["last_refreshed_at", "members"])
        audit_event_record(
            agency_id=segment.agency_id,
            event="segment.refreshed",
            target_type="segment",
            target_id=segment.pk,
            data={"refresh": run.pk, "reason": reason, "entered": entered, "exited": exited},
            **actor.audit_kwargs(),
        )
        if entered or exited:  # outgoing webhooks read the ledger once the refresh is visible
            transaction.on_commit(lambda: segment_changed_queue(segment_id=segment.pk))
    return run


# Above this many changed customers one set-based full refresh is cheaper than the id list.
INCREMENTAL_LIMIT = 5_000


def segment_refresh_customers(
    *, segment_id: int, customer_ids, reason: str = "data", now: datetime | None = None
) -> SegmentRefresh | None:
    """Re-evaluate the segment for these customers only (the compiled query restricted to
    their ids, in the database) and apply their difference: ledger rows and membership in one
    transaction, under the segment's row lock like a full refresh. Returns the run, or None
    when none of them entered or exited (nothing is written then)."""
    ids = sorted({int(i) for i in customer_ids})
    if len(ids) > INCREMENTAL_LIMIT:
        return segment_refresh(segment_id=segment_id, reason=reason, now=now)
    now = now or timezone.now()
    with transaction.atomic():
        segment = Segment.objects.select_for_update().select_related("agency").get(pk=segment_id)
        shops = segment_shops(segment)
        matched: dict[int, int] = {}  # customer id -> shop id
        if shops and ids:
            with shop_scope([s.pk for s in shops]):
                rows = matching_customers(root=from_dict(segment.parsed), shops=shops, now=now)
                matched = dict(rows.filter(pk__in=ids).order_by().values_list("pk", "shop_id"))
        current = dict(
            SegmentMembership.all_shops.filter(segment=segment, customer_id__in=ids).values_list(
                "customer_id", "shop_id"
            )
        )
        entered = sorted(matched.keys() - current.keys())
        exited = sorted(current.keys() - matched.keys())
        if not entered and not exited:
            return None
        run = SegmentRefresh.objects.create(segment=segment, reason=reason, started_at=now)
        MembershipEvent.all_shops.bulk_create(
            [
                *(
                    MembershipEvent(
                        shop_id=matched[i],
                        segment=segment,
                        customer_id=i,
                        kind="entered",
                        occurred_at=now,
                        refresh=run,
                    )
                    for i in entered
                ),
                *(
                    MembershipEvent(
                        shop_id=current[i],
                        segment=segment,
                        customer_id=i,
                        kind="exited",
                        occurred_at=now,
                        refresh=run,
                    )
                    for i in exited
                ),
            ]
        )
        if exited:
            SegmentMembership.all_shops.filter(segment=segment, customer_id__in=exited).delete()
        SegmentMembership.all_shops.bulk_create(
            SegmentMembership(shop_id=matched[i], segment=segment, customer_id=i, entered_at=now)
            for i in entered
        )
        # Counting a large membership on every webhook costs more than the change itself: the
        # count is adjusted by the difference, under the row lock every membership write holds.
        run.entered, run.exited = len(entered), len(exited)
        run.members = segment.members + run.entered - run.exited
        segment.members = run.members
        segment.save(update_fields=["members"])
        run.finished_at = timezone.now()
        run.save(update_fields=["entered", "exited", "members", "finished_at"])
        audit_event_record(
            agency_id=segment.agency_id,
            event="segment.refreshed",
            target_type="segment",
            target_id=segment.pk,
            data={
                "refresh": run.pk,
                "reason": reason,
                "entered": run.entered,
                "exited": run.exited,
                "customers": len(ids),
            },
        )
        transaction.on_commit(lambda: segment_changed_queue(segment_id=segment.pk))
    return run


@transaction.atomic
def snapshot_create(*, agency, segment_id: int, name: str, actor: Actor = SYSTEM_ACTOR) -> Snapshot:
    """Freeze the segment's current membership under `name` (immutable afterwards)."""
    segment = Segment.objects.select_for_update().get(pk=segment_id, agency=agency)
    name = (name or "").strip()
    if not name:
        from django.core.exceptions import ValidationError

        raise ValidationError({"name": "A snapshot needs a name."})
    if Snapshot.objects.filter(segment=segment, name=name).exists():
        from django.core.exceptions import ValidationError

        raise ValidationError({"name": f"This segment already has a snapshot named {name!r}."})
    snapshot = Snapshot.objects.create(
        segment=segment,
        name=name,
        query=segment.query,
        created_by=actor.user,
        created_at=timezone.now(),
    )
    rows = SnapshotMember._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {rows} (shop_id, snapshot_id, customer_id)"  # noqa: S608
            f" SELECT shop_id, %s, customer_id FROM {_MEMBERS} WHERE segment_id = %s",
            [snapshot.pk, segment.pk],
        )
        snapshot.members = cursor.rowcount
    snapshot.save(update_fields=["members"])
    audit_event_record(
        agency_id=agency.pk,
        event="snapshot.created",
        target_type="snapshot",
        target_id=snapshot.pk,
        data={"segment": segment.pk, "members": snapshot.members},
        **actor.audit_kwargs(),
    )
    return snapshot
