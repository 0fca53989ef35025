"""shop/redact erases the Shop row and everything it owns: nothing may block that."""

from django.apps import apps
from django.db import models

from tenants.models import Shop
from tenants.scoping import ShopOwnedModel

BLOCKING = (models.PROTECT, models.RESTRICT)


def test_no_relation_blocks_erasing_a_shop_or_its_rows():
    erased = {Shop} | {m for m in apps.get_models() if issubclass(m, ShopOwnedModel)}
    relations = [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.ForeignKey | models.OneToOneField)
        and field.related_model in erased
    ]
    assert len(relations) > len(erased) - 1  # the scan sees the shop FKs and more
    blocking = [
        f"{model._meta.label}.{field.name} -> {field.related_model._meta.label}"
        for model, field in relations
        if field.remote_field.on_delete in BLOCKING
    ]
    assert blocking == [], "these relations would make shop/redact fail: " + ", ".join(blocking)


def test_every_shop_owned_model_cascades_from_its_shop():
    owned = [m for m in apps.get_models() if issubclass(m, ShopOwnedModel)]
    assert owned
    for model in owned:
        shop_field = model._meta.get_field("shop")
        assert shop_field.remote_field.on_delete is models.CASCADE, model._meta.label


def test_the_set_based_erasure_plan_covers_every_shop_table_children_first():
    from tenants.shop_erasure import erasure_plan

    plan = erasure_plan()  # raises ErasureImpossible for a relation from outside into the rows
    position = {table.label: n for n, table in enumerate(plan)}
    shop_tables = {
        m._meta.label
        for m in apps.get_models(include_auto_created=True)
        if m is not Shop
        and any(
            isinstance(f, models.ForeignKey) and f.related_model is Shop
            for f in m._meta.concrete_fields
        )
    }
    assert set(position) == shop_tables
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            target = getattr(field, "related_model", None)
            if (
                isinstance(field, models.ForeignKey)
                and target is not model
                and target is not None
                and target._meta.label in position
            ):
                assert position[model._meta.label] < position[target._meta.label], field
