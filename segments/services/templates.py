"""Agency templates: stored queries with typed parameters (segments.templates), created,
edited and deleted here; applied to many shops by `segment_template_apply`."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_event_record
from segments.models import SegmentTemplate
from segments.query import parse_query
from segments.templates import LIBRARY, definition_check, sample_render
from tenants.actors import SYSTEM_ACTOR, Actor
from tenants.models import Agency

_FIELDS = ("key", "name", "description", "query", "parameters")


def _checked(agency: Agency, data: dict, exclude_pk=None) -> dict:
    """Raises ValidationError (a field named) or SegmentQueryError (the query with every
    parameter at its default, or a sample of its kind when it has none)."""
    key = (data["key"] or "").strip()
    name = (data["name"] or "").strip()
    if not key or not name:
        raise ValidationError({"key" if not key else "name": "Required."})
    if key in LIBRARY:
        raise ValidationError({"key": f"{key!r} is a library template's key; choose another."})
    taken = SegmentTemplate.objects.filter(agency=agency, key=key).exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"key": f"The agency already has a template {key!r}."})
    parameters = definition_check(data["query"], list(data["parameters"]))
    parse_query(sample_render(data["query"], parameters))
    return {
        **data,
        "key": key,
        "name": name,
        "parameters": [
            {"name": p.name, "kind": p.kind, "default": p.default, "description": p.description}
            for p in parameters
        ],
    }


def _audit(agency: Agency, event: str, template: SegmentTemplate, actor: Actor, **data) -> None:
    audit_event_record(
        agency_id=agency.pk,
        event=event,
        target_type="segment_template",
        target_id=template.pk,
        data={"key": template.key, **data},
        **actor.audit_kwargs(),
    )


@transaction.atomic
def segment_template_create(
    *,
    agency: Agency,
    key: str,
    name: str,
    query: str,
    parameters: list[dict] = (),
    description: str = "",
    actor: Actor = SYSTEM_ACTOR,
) -> SegmentTemplate:
    data = _checked(
        agency,
        {
            "key": key,
            "name": name,
            "description": description,
            "query": query,
            "parameters": parameters,
        },
    )
    template = SegmentTemplate.objects.create(agency=agency, created_by=actor.user, **data)
    _audit(agency, "segment_template.created", template, actor)
    return template


@transaction.atomic
def segment_template_update(
    *, agency: Agency, template_id: int, actor: Actor = SYSTEM_ACTOR, **changes
) -> SegmentTemplate:
    """Change any of key, name, description, query, parameters (checked as a whole). Segments
    made from it earlier keep their query."""
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise ValidationError({field: "Not a template field." for field in sorted(unknown)})
    template = SegmentTemplate.objects.select_for_update().get(pk=template_id, agency=agency)
    before = {field: getattr(template, field) for field in _FIELDS}
    after = _checked(agency, {**before, **changes}, exclude_pk=template.pk)
    changed = sorted(field for field in _FIELDS if before[field] != after[field])
    if not changed:
        return template
    for field in changed:
        setattr(template, field, after[field])
    template.save()
    _audit(agency, "segment_template.updated", template, actor, fields=changed)
    return template


@transaction.atomic
def segment_template_delete(
    *, agency: Agency, template_id: int, actor: Actor = SYSTEM_ACTOR
) -> None:
    template = SegmentTemplate.objects.select_for_update().get(pk=template_id, agency=agency)
    _audit(agency, "segment_template.deleted", template, actor)
    template.delete()
