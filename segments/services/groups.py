"""Group sets: ordered, exclusive groups (first matching rule wins, else "other"), refreshed in
the database with every move recorded."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection, transaction
from django.db.models import Case, CharField, Value, When
from django.utils import timezone
from django_q.tasks import async_task

from audit.services import audit_event_record
from notifications.emit import group_set_changed_queue
from segments.models import OTHER_GROUP, Group, GroupAssignment, GroupMove, GroupSet
from segments.query import SegmentQueryError, parse_query
from segments.query.compile import compile_for_shops, live_customers
from segments.query.errors import QueryErrorDetail
from segments.query.registry import RFM_GROUPS
from segments.query.serialise import from_dict, to_dict
from segments.selectors import check_context, group_set_shops, scope_shops
from tenants.actors import SYSTEM_ACTOR, Actor
from tenants.models import Agency
from tenants.scoping import shop_scope

# First match wins, so each rule only has to separate its group from the ones below it:
# high value comes before active (high-value customers are active too).
BUILT_IN: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "lifecycle": (
        "Lifecycle",
        [
            ("New", "new", "first_order_date >= -30d"),
            (
                "High value",
                "high-value",
                "predicted_spend_tier = 'HIGH' AND last_order_date >= -180d",
            ),
            ("Active", "active", "last_order_date >= -90d"),
            ("At risk", "at-risk", "last_order_date >= -180d"),
            ("Dormant", "dormant", "last_order_date < -180d"),
            ("Prospects", "prospects", "number_of_orders = 0"),
        ],
    ),
    "rfm": (
        "RFM",
        [
            (g.replace("_", " ").capitalize(), g.lower().replace("_", "-"), f"rfm_group = '{g}'")
            for g in RFM_GROUPS
        ],
    ),
}


@transaction.atomic
def group_set_create(
    *,
    agency: Agency,
    name: str,
    slug: str,
    groups: list[dict],
    all_shops: bool = True,
    shop_ids=(),
    write_back_tags: bool = False,
    actor: Actor = SYSTEM_ACTOR,
) -> GroupSet:
    """`groups`: [{"name", "slug", "query"}, ...] in priority order. Every query is checked
    first; SegmentQueryError lists the problems with the group's position in `text`."""
    if GroupSet.objects.filter(agency=agency, slug=slug).exists():
        raise ValidationError({"slug": f"The agency already has a group set {slug!r}."})
    slugs = [g["slug"] for g in groups]
    if OTHER_GROUP in slugs or len(set(slugs)) != len(slugs) or not groups:
        raise ValidationError({"groups": "Group slugs must be unique and not 'other'."})
    shops = scope_shops(agency=agency, all_shops=all_shops, shop_ids=shop_ids)
    context = check_context(shops, agency=agency)
    parsed, problems = [], []
    for position, group in enumerate(groups):
        try:
            parsed.append(parse_query(group["query"], context=context))
        except SegmentQueryError as error:
            problems += [
                QueryErrorDetail(
                    **{
                        **e.as_dict(),
                        "text": f"group {position + 1} ({group['slug']}): {e.text}",
                        "expected": tuple(e.expected),
                    }
                )
                for e in error.errors
            ]
    if problems:
        raise SegmentQueryError(problems)
    group_set = GroupSet.objects.create(
        agency=agency, name=name, slug=slug, all_shops=all_shops, write_back_tags=write_back_tags
    )
    group_set.shops.set([] if all_shops else [s.pk for s in shops])
    Group.objects.bulk_create(
        Group(
            group_set=group_set,
            position=position,
            name=group["name"],
            slug=group["slug"],
            query=query.text,
            parsed=to_dict(query.root),
        )
        for position, (group, query) in enumerate(zip(groups, parsed, strict=True))
    )
    audit_event_record(
        agency_id=agency.pk,
        event="group_set.created",
        target_type="group_set",
        target_id=group_set.pk,
        data={"groups": slugs},
        **actor.audit_kwargs(),
    )
    return group_set


def group_set_install_built_in(
    *, agency: Agency, kind: str, actor: Actor = SYSTEM_ACTOR
) -> GroupSet:
    name, groups = BUILT_IN[kind]
    return group_set_create(
        agency=agency,
        name=name,
        slug=kind,
        groups=[{"name": n, "slug": s, "query": q} for n, s, q in groups],
        actor=actor,
    )


def _assignment_rows(group_set: GroupSet, shops, now: datetime):
    """(shop_id, customer id, group slug) of every live customer of `shops`: the first group
    whose rule matches, else "other". Call inside shop_scope(shops)."""
    whens = [
        When(compile_for_shops(from_dict(g.parsed), shops=shops, now=now), then=Value(g.slug))
        for g in group_set.groups.order_by("position")
    ]
    return (
        live_customers()
        .filter(shop_id__in=[s.pk for s in shops])
        .annotate(group_slug=Case(*whens, default=Value(OTHER_GROUP), output_field=CharField()))
        .order_by()
        .values_list("shop_id", "pk", "group_slug")
    )


def _assignment_sql(group_set: GroupSet, now: datetime) -> tuple[str, list]:
    empty = "SELECT shop_id, id, '' FROM customers_customer WHERE 1 = 0"
    shops = group_set_shops(group_set)
    if not shops:
        return empty, []
    with shop_scope([s.pk for s in shops]):
        try:
            sql, params = _assignment_rows(group_set, shops, now).query.sql_with_params()
        except EmptyResultSet:
            return empty, []
    return sql, list(params)


def _write_back_on_commit(group_set: GroupSet, shop_ids) -> None:
    if not group_set.write_back_tags:
        return
    for shop_id in sorted(set(shop_ids)):
        transaction.on_commit(
            lambda shop_id=shop_id: async_task(
                "segments.tasks.group_tags_write_back_task",
                group_set.pk,
                shop_id,
                group="segments-tags",
            )
        )


def group_set_refresh(
    *, group_set_id: int, now: datetime | None = None, actor: Actor = SYSTEM_ACTOR
) -> int:
    """Put every customer of the scope in its group; record each move. Returns the moves.
    `actor`: the person or key who asked for it (the system for triggered refreshes)."""
    now = now or timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    assignments, moves = GroupAssignment._meta.db_table, GroupMove._meta.db_table
    with transaction.atomic():
        group_set = GroupSet.objects.select_for_update().get(pk=group_set_id)
        select_sql, params = _assignment_sql(group_set, now)
        table = connection.ops.quote_name(f"group_refresh_{group_set.pk}")
        gone = f"NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = {assignments}.customer_id)"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {table} (shop_id bigint, id bigint, slug varchar(60))"
            )
            cursor.execute(f"INSERT INTO {table} (shop_id, id, slug) {select_sql}", params)
            cursor.execute(
                f"INSERT INTO {moves} (shop_id, group_set_id, customer_id, from_group, to_group, moved_at)"  # noqa: S608
                f" SELECT t.shop_id, %s, t.id, COALESCE(a.group_slug, ''), t.slug, %s FROM {table} t"
                f" LEFT JOIN {assignments} a ON a.group_set_id = %s AND a.customer_id = t.id"
                " WHERE a.group_slug IS NULL OR a.group_slug <> t.slug",
                [group_set.pk, at, group_set.pk],
            )
            moved = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {moves} (shop_id, group_set_id, customer_id, from_group, to_group, moved_at)"  # noqa: S608
                f" SELECT shop_id, group_set_id, customer_id, group_slug, '', %s FROM {assignments}"
                f" WHERE group_set_id = %s AND {gone}",
                [at, group_set.pk],
            )
            moved += cursor.rowcount
            cursor.execute(
                f"DELETE FROM {assignments} WHERE group_set_id = %s AND {gone}",  # noqa: S608
                [group_set.pk],
            )
            cursor.execute(
                f"UPDATE {assignments} SET since = %s, group_slug ="  # noqa: S608
                f" (SELECT t.slug FROM {table} t WHERE t.id = {assignments}.customer_id)"
                f" WHERE group_set_id = %s AND EXISTS (SELECT 1 FROM {table} t"
                f" WHERE t.id = {assignments}.customer_id AND t.slug <> {assignments}.group_slug)",
                [at, group_set.pk],
            )
            cursor.execute(
                f"INSERT INTO {assignments} (shop_id, group_set_id, customer_id, group_slug, since)"  # noqa: S608
                f" SELECT t.shop_id, %s, t.id, t.slug, %s FROM {table} t WHERE NOT EXISTS"
                f" (SELECT 1 FROM {assignments} a WHERE a.group_set_id = %s AND a.customer_id = t.id)",
                [group_set.pk, at, group_set.pk],
            )
            cursor.execute(f"DROP TABLE {table}")
        group_set.last_refreshed_at = now
        group_set.save(update_fields=["last_refreshed_at"])
        if moved:
            _write_back_on_commit(group_set, [shop.pk for shop in group_set_shops(group_set)])
        audit_event_record(
            agency_id=group_set.agency_id,
            event="group_set.refreshed",
            target_type="group_set",
            target_id=group_set.pk,
            data={"moves": moved},
            **actor.audit_kwargs(),
        )
        if moved:  # outgoing webhooks read the moves once the refresh is visible
            transaction.on_commit(lambda: group_set_changed_queue(group_set_id=group_set.pk))
    return moved


def group_set_refresh_customers(
    *, group_set_id: int, customer_ids, now: datetime | None = None
) -> int:
    """Re-place these customers only (the rules evaluated in the database restricted to their
    ids); record their moves in one transaction under the set's row lock. Returns the moves."""
    ids = sorted({int(i) for i in customer_ids})
    now = now or timezone.now()
    with transaction.atomic():
        group_set = GroupSet.objects.select_for_update().get(pk=group_set_id)
        shops = group_set_shops(group_set)
        placed: dict[int, tuple[int, str]] = {}  # customer id -> (shop id, group slug)
        if shops and ids:
            with shop_scope([s.pk for s in shops]):
                rows = _assignment_rows(group_set, shops, now).filter(pk__in=ids)
                placed = {pk: (shop_id, slug) for shop_id, pk, slug in rows}
        current = {
            a.customer_id: a
            for a in GroupAssignment.all_shops.filter(group_set=group_set, customer_id__in=ids)
        }
        moves, changed, gone = [], [], []
        for customer_id in ids:
            old, new = current.get(customer_id), placed.get(customer_id)
            old_slug, new_slug = (old.group_slug if old else ""), (new[1] if new else "")
            if old_slug == new_slug:
                continue
            shop_id = new[0] if new else old.shop_id
            moves.append(
                GroupMove(
                    shop_id=shop_id,
                    group_set=group_set,
                    customer_id=customer_id,
                    from_group=old_slug,
                    to_group=new_slug,
                    moved_at=now,
                )
            )
            if old and new:
                old.group_slug, old.since = new_slug, now
                changed.append(old)
            elif old:
                gone.append(customer_id)
        if not moves:
            return 0
        GroupMove.all_shops.bulk_create(moves)
        GroupAssignment.all_shops.filter(group_set=group_set, customer_id__in=gone).delete()
        GroupAssignment.all_shops.bulk_update(changed, ["group_slug", "since"])
        GroupAssignment.all_shops.bulk_create(
            GroupAssignment(
                shop_id=shop_id, group_set=group_set, customer_id=pk, group_slug=slug, since=now
            )
            for pk, (shop_id, slug) in placed.items()
            if pk not in current
        )
        _write_back_on_commit(group_set, [move.shop_id for move in moves])
        audit_event_record(
            agency_id=group_set.agency_id,
            event="group_set.refreshed",
            target_type="group_set",
            target_id=group_set.pk,
            data={"moves": len(moves), "customers": len(ids)},
        )
        transaction.on_commit(lambda: group_set_changed_queue(group_set_id=group_set.pk))
    return len(moves)
