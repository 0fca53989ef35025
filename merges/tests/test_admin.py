"""Operators see candidates (with the per-edge levels and weights), dismissals and fitted models,
edit nothing, and may queue a re-scan."""

import pytest

from merges.models import DismissedPair, DuplicateCandidate, MatcherFit
from merges.services import duplicate_dismiss, duplicates_find
from merges.tests.stores import load_generated
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    client.force_login(user)
    return client


def test_operator_pages_render_read_only_and_rescan_runs_the_service(operator):
    shop = shop_factory(agency=agency_factory(), country_code="DE")
    load_generated(shop, count=400, seed=51)
    duplicates_find(shop_id=shop.id, full=True)
    candidate = DuplicateCandidate.all_shops.filter(shop=shop).first()
    duplicate_dismiss(candidate=candidate, reason="different people")
    pair = DismissedPair.all_shops.filter(shop=shop).first()

    listing = operator.get("/admin/merges/duplicatecandidate/").content.decode()
    assert f">{candidate.pk}<" in listing and "dismissed" in listing
    detail = operator.get(f"/admin/merges/duplicatecandidate/{candidate.pk}/change/")
    page = detail.content.decode()
    assert detail.status_code == 200 and "Save" not in page
    assert "email" in page and "bits" in page  # the per-edge waterfall without raw values
    assert operator.get("/admin/merges/duplicatecandidate/add/").status_code == 403
    assert operator.get(f"/admin/merges/dismissedpair/{pair.pk}/change/").status_code == 200
    fit = MatcherFit.all_shops.get(shop=shop)
    assert operator.get(f"/admin/merges/matcherfit/{fit.pk}/change/").status_code == 200
    assert (
        operator.post(
            f"/admin/merges/duplicatecandidate/{candidate.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )

    # The re-scan goes through the task (inline under pytest): open candidates are rebuilt.
    DuplicateCandidate.all_shops.filter(shop=shop, status="open").delete()
    response = operator.post(
        "/admin/merges/matcherfit/",
        {"action": "rescan", "_selected_action": [fit.pk]},
        follow=True,
    )
    assert "Re-scan queued for 1 shop" in response.content.decode()
    assert DuplicateCandidate.all_shops.filter(shop=shop, status="open").exists()
    assert MatcherFit.all_shops.get(shop=shop).fitted_at == fit.fitted_at  # no refit
