"""The reviewer queue pages: session login, role-checked dismissal, foreign ids 404, bad input 400
changing nothing."""

import pytest

from merges.models import DismissedPair, DuplicateCandidate
from merges.services import duplicates_find
from merges.tests.stores import load_generated
from tenants.roles import Role
from tenants.tests.factories import agency_factory, membership_factory, shop_factory, user_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agency_with_queue():
    agency = agency_factory(name="Queue Agency")
    shop = shop_factory(agency=agency, country_code="DE")
    load_generated(shop, count=400, seed=71)
    duplicates_find(shop_id=shop.id, full=True)
    return agency, shop


def logged_in(client, agency, role):
    user = user_factory()
    membership_factory(agency=agency, user=user, role=role)
    client.force_login(user)
    return client


def test_login_is_required(client):
    response = client.get("/duplicates/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_viewer_reads_but_cannot_dismiss(client, agency_with_queue):
    agency, shop = agency_with_queue
    candidate = DuplicateCandidate.all_shops.filter(shop=shop, status="open").first()
    viewer = logged_in(client, agency, Role.VIEWER)
    page = viewer.get("/duplicates/").content.decode()
    assert f'data-candidate="{candidate.pk}"' in page
    detail = viewer.get(f"/duplicates/{candidate.pk}/").content.decode()
    assert 'id="read-only"' in detail and "dismiss-form" not in detail
    response = viewer.post(f"/duplicates/{candidate.pk}/dismiss/", {"reason": "twins"})
    assert response.status_code == 403
    assert DuplicateCandidate.all_shops.get(pk=candidate.pk).status == "open"


def test_bad_reason_answers_400_and_changes_nothing(client, agency_with_queue):
    agency, shop = agency_with_queue
    candidate = DuplicateCandidate.all_shops.filter(shop=shop, status="open").first()
    reviewer = logged_in(client, agency, Role.REVIEWER)
    for reason in ("   ", "x" * 501):
        response = reviewer.post(f"/duplicates/{candidate.pk}/dismiss/", {"reason": reason})
        assert response.status_code == 400 and 'id="reason-error"' in response.content.decode()
    assert DuplicateCandidate.all_shops.get(pk=candidate.pk).status == "open"
    assert not DismissedPair.all_shops.filter(shop=shop).exists()


def test_another_agencys_candidate_is_404(client, agency_with_queue):
    _, shop = agency_with_queue
    candidate = DuplicateCandidate.all_shops.filter(shop=shop, status="open").first()
    stranger = logged_in(client, agency_factory(), Role.OWNER)
    assert stranger.get(f"/duplicates/{candidate.pk}/").status_code == 404
    response = stranger.post(f"/duplicates/{candidate.pk}/dismiss/", {"reason": "no"})
    assert response.status_code == 404
    assert f'data-candidate="{candidate.pk}"' not in stranger.get("/duplicates/").content.decode()
    assert stranger.get("/duplicates/?agency=nope").status_code == 404
    assert DuplicateCandidate.all_shops.get(pk=candidate.pk).status == "open"
