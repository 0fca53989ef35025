"""shop/redact empties every table that holds the shop's rows, and only the shop's rows.

The tables are found here by introspection (every model or many-to-many table with a foreign key
to tenants.Shop), independently of tenants.shop_erasure: each gets rows for the erased shop and
for a neighbour (filled generically, so a model added later is covered without touching this
file), the shop is erased, and each table is checked.
"""

import datetime
import decimal
import itertools
import uuid

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_chain_verify, audit_event_record
from tenants.models import Agency, Shop
from tenants.shop_lifecycle import shop_redact, shop_uninstall
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db
_serial = itertools.count(1)


def shop_tables() -> list[tuple[type[models.Model], list[str]]]:
    found = []
    for model in apps.get_models(include_auto_created=True):
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.ForeignKey) and f.related_model is Shop
        ]
        if columns and model is not Shop and not model._meta.proxy:
            found.append((model, columns))
    return found


def _value(field: models.Field, n: int):
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return datetime.date(2026, 1, 1)
    if isinstance(field, models.DecimalField):
        return decimal.Decimal(1)
    if isinstance(field, models.FloatField):
        return 1.0
    if isinstance(field, models.IntegerField | models.BigIntegerField):
        return n
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.BinaryField):
        return b"x"
    if isinstance(field, models.CharField | models.TextField):
        return f"x{n}"[: field.max_length or 100]
    raise NotImplementedError(f"no sample value for {field.__class__.__name__} {field}")


def _row(model, shop: Shop, made: dict):
    """A row of `model` belonging to `shop` (its parents made on the way, per shop)."""
    key = (model, shop.pk)
    if key in made:
        return made[key]
    values = {}
    for field in model._meta.concrete_fields:
        if isinstance(field, models.AutoField):
            continue
        if isinstance(field, models.ForeignKey):
            target = field.related_model
            if target is Shop:
                values[field.name] = shop
            elif target is Agency:
                values[field.name] = shop.agency
            elif target._meta.app_label == "auth" or field.null:
                continue
            else:
                values[field.name] = _row(target, shop, made)
            continue
        if field.has_default() or field.null or getattr(field, "auto_now", False):
            continue
        values[field.name] = _value(field, next(_serial))
    made[key] = model._base_manager.create(**values)
    return made[key]


def _counts(tables, shop: Shop) -> dict[str, int]:
    return {
        model._meta.label: sum(
            model._base_manager.filter(**{column: shop.pk}).count() for column in columns
        )
        for model, columns in tables
    }


def test_shop_redact_empties_every_shop_table_and_leaves_the_neighbour_alone():
    agency = agency_factory()
    shop = shop_factory(agency=agency, domain="erased.myshopify.com")
    neighbour = shop_factory(agency=agency, domain="neighbour.myshopify.com")
    audit_event_record(agency_id=agency.pk, event="shop.installed", shop_id=shop.pk)
    tables = shop_tables()
    assert len(tables) >= 20  # the mirror, segments, duplicates, deliveries, m2m tables
    for target in (shop, neighbour):
        made = {}
        for model, _columns in tables:
            _row(model, target, made)
    before = _counts(tables, shop)
    neighbour_before = _counts(tables, neighbour)
    assert 0 not in before.values(), before  # every table holds rows of the shop to erase
    assert 0 not in neighbour_before.values(), neighbour_before

    shop_uninstall(shop=shop)
    deleted = shop_redact(shop=shop)

    assert not Shop.objects.filter(pk=shop.pk).exists()
    assert _counts(tables, shop) == dict.fromkeys(before, 0)
    assert _counts(tables, neighbour) == neighbour_before
    assert Shop.objects.filter(pk=neighbour.pk, status=Shop.Status.INSTALLED).exists()
    assert {label: n for label, n in deleted.items() if label != "tenants.Shop"} == before
    event = AuditEvent.objects.get(event="shop.redacted", shop_id=shop.pk)
    assert event.data["deleted"] == deleted
    assert audit_chain_verify(agency_id=agency.pk) == (True, None)
