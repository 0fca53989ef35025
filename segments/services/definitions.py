"""Segment definitions: create, edit (every edit a version with its diff), restore, delete;
group set settings (name, tag write-back)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from audit.services import audit_event_record
from segments.models import GroupSet, Segment, SegmentVersion
from segments.query import parse_query
from segments.query.serialise import to_dict, uses_relative_dates
from segments.selectors import check_context, group_set_shops, scope_shops
from tenants.actors import SYSTEM_ACTOR, Actor
from tenants.models import Agency

_TRACKED = ("name", "description", "query", "all_shops", "shop_ids")


class SegmentConflict(Exception):
    """The segment changed since the caller read it (expected_version is stale)."""


def _state(segment: Segment, shop_ids: list[int]) -> dict:
    return {
        "name": segment.name,
        "description": segment.description,
        "query": segment.query,
        "all_shops": segment.all_shops,
        "shop_ids": sorted(shop_ids),
    }


def _enqueue_refresh(segment_id: int, reason: str, actor: Actor) -> None:
    from segments.tasks import segment_refresh_enqueue

    transaction.on_commit(
        lambda: segment_refresh_enqueue(segment_id=segment_id, reason=reason, actor=actor)
    )


def _validated(
    *, agency: Agency, name: str, query: str, all_shops: bool, shop_ids, exclude_pk=None
):
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A segment needs a name."})
    taken = Segment.objects.filter(agency=agency, name=name).exclude(pk=exclude_pk).exists()
    if taken:
        raise ValidationError({"name": f"The agency already has a segment named {name!r}."})
    shops = scope_shops(agency=agency, all_shops=all_shops, shop_ids=shop_ids)
    if not all_shops and not shops:
        raise ValidationError({"shop_ids": "Choose at least one shop, or all shops."})
    parsed = parse_query(query, context=check_context(shops, agency=agency))
    return name, shops, parsed


@transaction.atomic
def segment_create(
    *,
    agency: Agency,
    name: str,
    query: str,
    all_shops: bool = False,
    shop_ids=(),
    description: str = "",
    actor: Actor = SYSTEM_ACTOR,
) -> Segment:
    """Raises ValidationError, UnknownShops or SegmentQueryError and then changes nothing."""
    name, shops, parsed = _validated(
        agency=agency, name=name, query=query, all_shops=all_shops, shop_ids=shop_ids
    )
    segment = Segment.objects.create(
        agency=agency,
        name=name,
        description=description,
        query=parsed.text,
        parsed=to_dict(parsed.root),
        attributes=sorted(parsed.attributes),
        all_shops=all_shops,
        uses_relative_dates=uses_relative_dates(parsed.root),
        created_by=actor.user,
        updated_by=actor.user,
    )
    shop_ids = [] if all_shops else [s.pk for s in shops]
    segment.shops.set(shop_ids)
    state = _state(segment, shop_ids)
    SegmentVersion.objects.create(
        segment=segment,
        number=1,
        diff={key: [None, value] for key, value in state.items()},
        edited_by=actor.user,
        edited_at=timezone.now(),
        **{k: v for k, v in state.items()},
    )
    audit_event_record(
        agency_id=agency.pk,
        event="segment.created",
        target_type="segment",
        target_id=segment.pk,
        data={"version": 1, "attributes": segment.attributes},
        **actor.audit_kwargs(),
    )
    _enqueue_refresh(segment.pk, "definition", actor)
    return segment


@transaction.atomic
def segment_update(
    *,
    agency: Agency,
    segment_id: int,
    actor: Actor = SYSTEM_ACTOR,
    expected_version: int | None = None,
    event: str = "segment.updated",
    **changes,
) -> Segment:
    """Change any of name, description, query, all_shops, shop_ids; a no-op edit saves nothing."""
    unknown = set(changes) - set(_TRACKED)
    if unknown:
        raise ValidationError({field: "Not a segment field." for field in unknown})
    segment = Segment.objects.select_for_update().get(pk=segment_id, agency=agency)
    if expected_version is not None and expected_version != segment.version:
        raise SegmentConflict(
            f"segment {segment.pk} is at version {segment.version}, not {expected_version}"
        )
    before = _state(segment, list(segment.shops.values_list("pk", flat=True)))
    wanted = {**before, **changes}
    name, shops, parsed = _validated(
        agency=agency,
        name=wanted["name"],
        query=wanted["query"],
        all_shops=wanted["all_shops"],
        shop_ids=wanted["shop_ids"],
        exclude_pk=segment.pk,
    )
    after = {
        **wanted,
        "name": name,
        "query": parsed.text,
        "shop_ids": [] if wanted["all_shops"] else sorted(s.pk for s in shops),
    }
    diff = {key: [before[key], after[key]] for key in _TRACKED if before[key] != after[key]}
    if not diff:
        return segment
    segment.name, segment.description = after["name"], after["description"]
    segment.query, segment.parsed = parsed.text, to_dict(parsed.root)
    segment.attributes = sorted(parsed.attributes)
    segment.uses_relative_dates = uses_relative_dates(parsed.root)
    segment.all_shops = after["all_shops"]
    segment.version += 1
    segment.updated_by = actor.user
    segment.save()
    segment.shops.set(after["shop_ids"])
    SegmentVersion.objects.create(
        segment=segment,
        number=segment.version,
        diff=diff,
        edited_by=actor.user,
        edited_at=timezone.now(),
        **after,
    )
    audit_event_record(
        agency_id=agency.pk,
        event=event,
        target_type="segment",
        target_id=segment.pk,
        data={"version": segment.version, "fields": sorted(diff)},
        **actor.audit_kwargs(),
    )
    if {"query", "all_shops", "shop_ids"} & set(diff):
        _enqueue_refresh(segment.pk, "definition", actor)
    return segment


def segment_restore(
    *, agency: Agency, segment_id: int, version: int, actor: Actor = SYSTEM_ACTOR
) -> Segment:
    """Make an old version current again (as a new version, so history stays linear)."""
    old = SegmentVersion.objects.get(segment_id=segment_id, segment__agency=agency, number=version)
    return segment_update(
        agency=agency,
        segment_id=segment_id,
        actor=actor,
        event="segment.restored",
        name=old.name,
        description=old.description,
        query=old.query,
        all_shops=old.all_shops,
        shop_ids=old.shop_ids,
    )


@transaction.atomic
def segment_delete(*, agency: Agency, segment_id: int, actor: Actor = SYSTEM_ACTOR) -> None:
    segment = Segment.objects.select_for_update().get(pk=segment_id, agency=agency)
    audit_event_record(
        agency_id=agency.pk,
        event="segment.deleted",
        target_type="segment",
        target_id=segment.pk,
        data={"version": segment.version},
        **actor.audit_kwargs(),
    )
    segment.delete()


@transaction.atomic
def segment_template_apply(
    *,
    agency: Agency,
    template_key: str,
    params: dict | None = None,
    shop_ids=(),
    one_per_shop: bool = True,
    name: str | None = None,
    actor: Actor = SYSTEM_ACTOR,
) -> list[Segment]:
    """Create segments from a library or agency template (by key) for many shops at once: one
    segment per shop (named "<name> · <shop>", the default) or one segment over all of them.
    No `shop_ids` = all the agency's installed shops. All or nothing; audited as
    `segment_template.applied` besides each `segment.created`."""
    from segments.models import SegmentTemplate
    from segments.templates import LIBRARY, render, template_of

    template = LIBRARY.get(template_key)
    if template is None:
        row = SegmentTemplate.objects.filter(agency=agency, key=template_key).first()
        template = template_of(row) if row is not None else None
    if template is None:
        raise ValidationError({"template": f"No template {template_key!r}."})
    query = render(template, params)
    shops = scope_shops(agency=agency, all_shops=not shop_ids, shop_ids=shop_ids)
    if one_per_shop and not shops:
        raise ValidationError({"shop_ids": "The agency has no installed shop to apply it to."})
    base = (name or template.name).strip()
    longest = max([len(f"{base} · {shop.domain}") for shop in shops] if one_per_shop else [0])
    if len(base) > 200 or longest > 200:
        raise ValidationError({"name": "Segment names are at most 200 characters."})
    if one_per_shop:
        made = [
            segment_create(
                agency=agency,
                name=f"{base} · {shop.domain}",
                query=query,
                shop_ids=[shop.pk],
                description=template.description,
                actor=actor,
            )
            for shop in shops
        ]
    else:
        made = [
            segment_create(
                agency=agency,
                name=base,
                query=query,
                all_shops=not shop_ids,
                shop_ids=[s.pk for s in shops],
                description=template.description,
                actor=actor,
            )
        ]
    audit_event_record(
        agency_id=agency.pk,
        event="segment_template.applied",
        target_type="segment_template",
        target_id=template.key,
        data={
            "segments": [segment.pk for segment in made],
            "params": sorted(params or {}),
            "one_per_shop": one_per_shop,
        },
        **actor.audit_kwargs(),
    )
    return made


_GROUP_SET_SETTINGS = ("name", "write_back_tags", "tag_prefix")


@transaction.atomic
def group_set_update(
    *, agency: Agency, group_set_id: int, actor: Actor = SYSTEM_ACTOR, **changes
) -> GroupSet:
    """Change a group set's settings: `name`, `write_back_tags`, `tag_prefix`. Switching the
    write-back on (or changing the prefix while it is on) queues a write-back per shop on commit,
    so Shopify catches up without waiting for the next move."""
    unknown = set(changes) - set(_GROUP_SET_SETTINGS)
    if unknown:
        raise ValidationError({field: "Not a group set setting." for field in sorted(unknown)})
    group_set = GroupSet.objects.select_for_update().get(pk=group_set_id, agency=agency)
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if not changes["name"]:
            raise ValidationError({"name": "A group set needs a name."})
    if "tag_prefix" in changes:
        prefix = changes["tag_prefix"] or ""
        # Shopify splits tags on commas and trims them, so such a prefix would not round-trip.
        if not prefix.strip() or "," in prefix or prefix != prefix.strip():
            raise ValidationError(
                {"tag_prefix": "A prefix such as 'group:', without commas or edge spaces."}
            )
    diff = {
        field: [getattr(group_set, field), value]
        for field, value in changes.items()
        if getattr(group_set, field) != value
    }
    if not diff:
        return group_set
    for field, (_, value) in diff.items():
        setattr(group_set, field, value)
    group_set.save(update_fields=sorted(diff))
    audit_event_record(
        agency_id=agency.pk,
        event="group_set.updated",
        target_type="group_set",
        target_id=group_set.pk,
        data={"fields": sorted(diff), "write_back_tags": group_set.write_back_tags},
        **actor.audit_kwargs(),
    )
    if group_set.write_back_tags and {"write_back_tags", "tag_prefix"} & set(diff):
        for shop_id in [s.pk for s in group_set_shops(group_set)]:
            transaction.on_commit(
                lambda shop_id=shop_id: async_task(
                    "segments.tasks.group_tags_write_back_task",
                    group_set.pk,
                    shop_id,
                    group="segments-tags",
                )
            )
    return group_set
