"""A redacted customer leaves no personal data in anything duplicate detection stores: every text
and JSON column of every merges table is searched for the customer's values."""

import pytest
from django.apps import apps
from django.db import models
from django.db.models.functions import Cast

from customers.models import Customer, CustomerAddress
from customers.privacy import customer_redact
from merges.models import DismissedPair, DuplicateCandidate
from merges.services import ERASED_REASON, duplicate_dismiss, duplicates_find, matcher_model
from merges.tests.stores import load_generated
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def rows_holding(value: str) -> list[str]:
    """'app.Model.field #pk' for every row of a merges table whose column contains `value`."""
    found = []
    for model in apps.get_app_config("merges").get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, TEXT_FIELDS):
                continue
            hits = (
                model._base_manager.annotate(_text=Cast(field.name, models.TextField()))
                .filter(_text__icontains=value)
                .values_list("pk", flat=True)
            )
            found += [f"{model.__name__}.{field.name} #{pk}" for pk in hits]
    return found


def held_by_others(value: str, victim: Customer) -> bool:
    """Another profile in the mirror holds the value too (a duplicate's own data stays)."""
    others = Customer.all_shops.exclude(pk=victim.pk)
    addresses = CustomerAddress.all_shops.exclude(customer=victim)
    return (
        others.filter(email__iexact=value).exists()
        or others.filter(phone=value).exists()
        or addresses.filter(address1=value).exists()
        or addresses.filter(phone=value).exists()
    )


def test_redacted_customer_leaves_no_personal_data_in_merges_tables():
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=800, seed=61)
    duplicates_find(shop_id=shop.id, full=True)
    # A group of three when there is one: the reviewer's reason then also sits on the pair of the
    # two other members, which stays remembered after the erasure.
    candidate = next(
        c
        for c in sorted(
            DuplicateCandidate.all_shops.filter(shop=shop), key=lambda c: -len(c.members)
        )
        if Customer.all_shops.filter(pk__in=c.members).exclude(email="").exclude(phone="").exists()
    )
    victim = (
        Customer.all_shops.filter(pk__in=candidate.members)
        .exclude(email="")
        .exclude(phone="")
        .first()
    )
    # An address only the victim has, so the search below has a value no one else holds.
    local, domain = victim.email.split("@")
    victim.email = f"{local}.zqv@{domain}"
    victim.save(update_fields=["email"])
    address = CustomerAddress.all_shops.filter(customer=victim, is_default=True).first()
    values = [victim.email, victim.phone]
    if address is not None and address.address1:
        values.append(address.address1)
    duplicates_find(shop_id=shop.id, full=True)
    candidate = next(
        c for c in DuplicateCandidate.all_shops.filter(shop=shop) if victim.pk in c.members
    )
    # A reviewer's decision and its free text are kept with the pair until the erasure.
    duplicate_dismiss(candidate=candidate, reason=f"not {victim.email}, checked")
    duplicates_find(shop_id=shop.id, full=True)

    # Positive control: before the erasure the search finds the victim's values (raw values in
    # explanations, the normalised email in the key table, the reviewer's reason), so the
    # search below can fail.
    before = rows_holding(victim.email)
    assert {r.split(" ")[0] for r in before} >= {
        "DuplicateCandidate.explanation",
        "DismissedPair.reason",
    }
    assert rows_holding(f"{local}.zqv")  # the key table holds the normalised form

    assert matcher_model(shop_id=shop.id).term_frequencies  # now cached in this process
    customer_redact(shop=shop, shopify_customer_id=victim.shopify_id)
    # The eraser dropped the fit's name frequencies; the cached copy is not used any more.
    assert not matcher_model(shop_id=shop.id).term_frequencies

    checked = [v for v in values if not held_by_others(v, victim)]
    assert victim.email in checked
    for value in checked:
        assert rows_holding(value) == [], value
    assert rows_holding(f"{local}.zqv") == []
    assert not [c for c in DuplicateCandidate.all_shops.filter(shop=shop) if victim.pk in c.members]
    others = DismissedPair.all_shops.filter(shop=shop, reason=ERASED_REASON)
    assert others.count() == (len(candidate.members) - 1) * (len(candidate.members) - 2) // 2
    # And a later scan does not bring them back.
    duplicates_find(shop_id=shop.id, full=True)
    for value in checked:
        assert rows_holding(value) == [], value
