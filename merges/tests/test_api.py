"""The duplicate queue API: list filters and cursors, the waterfall detail, reviewer dismissals
(permissions, bad input changing nothing, audit) and foreign ids, on a generated store."""

import pytest

from audit.models import AuditEvent
from customers.models import Customer
from merges.models import DismissedPair, DuplicateCandidate
from merges.services import duplicates_find
from merges.tests.stores import load_generated
from tenants.roles import Role
from tenants.tests.factories import (
    agency_factory,
    api_client,
    api_key_factory,
    membership_factory,
    shop_factory,
    user_factory,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/duplicates/"


@pytest.fixture
def queue():
    agency = agency_factory()
    shop = shop_factory(agency=agency, country_code="DE")
    load_generated(shop, count=600, seed=11, duplicate_rate=0.15)
    duplicates_find(shop_id=shop.id, full=True)
    # A Shopify merge blocker known from the mirror must reach the candidate with its hint.
    blocked = DuplicateCandidate.all_shops.filter(shop=shop).first().members
    Customer.all_shops.filter(pk__in=blocked).update(
        is_mergeable=False, merge_blockers=["GIFT_CARDS"]
    )
    duplicates_find(shop_id=shop.id, full=True)
    other_shop = shop_factory(agency=agency, country_code="US")
    load_generated(other_shop, count=300, seed=12, duplicate_rate=0.15)
    duplicates_find(shop_id=other_shop.id, full=True)
    reviewer = user_factory()
    membership_factory(agency=agency, user=reviewer, role=Role.REVIEWER)
    return agency, shop, other_shop, reviewer


def rows(client, params=None) -> list[dict]:
    response = client.get(URL, params or {})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_list_covers_the_agency_shops_strongest_first_and_filters(queue):
    agency, shop, other_shop, reviewer = queue
    client = api_client(user=reviewer)
    every = rows(client, {"page_size": 200})
    in_db = DuplicateCandidate.all_shops.filter(shop__agency=agency).count()
    assert len(every) == in_db and {r["shop"] for r in every} == {shop.id, other_shop.id}
    probabilities = [r["probability"] for r in every]
    assert probabilities == sorted(probabilities, reverse=True)
    assert "edges" not in every[0]  # the waterfall is in the detail only

    only_other = rows(client, {"shop": str(other_shop.id), "page_size": 200})
    assert only_other and {r["shop"] for r in only_other} == {other_shop.id}
    high = rows(client, {"tier": "high", "page_size": 200})
    assert {r["id"] for r in high} == {r["id"] for r in every if r["tier"] == "high"}
    cut = sorted(probabilities)[len(probabilities) // 2]
    strong = rows(client, {"min_probability": str(cut), "page_size": 200})
    assert {r["id"] for r in strong} == {r["id"] for r in every if r["probability"] >= cut}
    assert rows(client, {"status": "dismissed"}) == []
    blocked = [r for r in every if r["blockers"]]
    assert blocked and all(not r["mergeable"] for r in blocked)
    assert blocked[0]["blockers"][0]["hint"].startswith("Gift cards")


def test_cursor_pagination_walks_every_candidate_once(queue):
    agency, _, _, reviewer = queue
    client = api_client(user=reviewer)
    seen, url, params = [], URL, {"page_size": 7}
    while url:
        response = client.get(url, params)
        assert response.status_code == 200
        seen += [r["id"] for r in response.json()["results"]]
        url, params = response.json()["next"], None
    expected = DuplicateCandidate.all_shops.filter(shop__agency=agency).count()
    assert len(seen) == len(set(seen)) == expected > 7


@pytest.mark.parametrize(
    "params, field",
    [
        ({"min_probability": "2"}, "min_probability"),
        ({"min_probability": "likely"}, "min_probability"),
        ({"tier": "urgent"}, "tier"),
        ({"status": "maybe"}, "status"),
        ({"shop": "abc"}, "shop"),
        ({"page_size": "0"}, "page_size"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
def test_bad_list_parameters_answer_400_naming_them(params, field):
    reviewer = user_factory()
    agency = agency_factory()
    shop_factory(agency=agency)
    membership_factory(agency=agency, user=reviewer, role=Role.REVIEWER)
    response = api_client(user=reviewer).get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_detail_shows_the_waterfall_with_raw_values_members_and_blockers(queue):
    _, shop, _, reviewer = queue
    client = api_client(user=reviewer)
    candidate = DuplicateCandidate.all_shops.filter(shop=shop).exclude(blockers=[]).first()
    response = client.get(f"{URL}{candidate.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["members"] == candidate.members and body["mergeable"] is False
    assert body["blockers"][0]["hint"] and body["blockers"][0]["customer_id"] in body["members"]
    profiles = {p["id"]: p for p in body["member_profiles"]}
    assert set(profiles) == set(candidate.members)
    assert [p["id"] for p in body["member_profiles"] if p["is_survivor"]] == [candidate.survivor_id]
    edge = body["edges"][0]
    left, right = edge["customers"]
    fields = {row["field"]: row for row in edge["rows"]}
    assert set(fields) == {
        "prior",
        "email",
        "phone",
        "first_name",
        "last_name",
        "address",
        "orders",
    }
    assert fields["email"]["left"] == profiles[left]["email"]
    assert fields["email"]["right"] == profiles[right]["email"]
    assert all("level" in row for name, row in fields.items() if name != "prior")
    total = sum(row["weight"] for row in edge["rows"])
    assert total == pytest.approx(edge["total_weight"], abs=0.1)
    assert 0.9 <= edge["probability"] <= 1


def test_dismiss_needs_a_reason_and_the_right_role_and_changes_nothing_otherwise(queue):
    agency, shop, _, reviewer = queue
    candidate = DuplicateCandidate.all_shops.filter(shop=shop, status="open").first()
    url = f"{URL}{candidate.pk}/dismiss/"
    viewer = user_factory()
    membership_factory(agency=agency, user=viewer, role=Role.VIEWER)
    _, read_key = api_key_factory(agency=agency, scope="read")
    attempts = [
        (api_client(user=viewer), {"reason": "siblings"}, 403, None),
        (api_client(key=read_key), {"reason": "siblings"}, 403, None),
        (api_client(user=reviewer), {}, 400, "reason"),
        (api_client(user=reviewer), {"reason": "   "}, 400, "reason"),
        (api_client(user=reviewer), {"reason": "x" * 501}, 400, "reason"),
        (api_client(user=reviewer), {"reason": ["a", "b"]}, 400, "reason"),
    ]
    for client, body, status, field in attempts:
        response = client.post(url, body, format="json")
        assert response.status_code == status, (body, response.content)
        if field:
            assert field in response.json()["error"]["fields"]
    candidate.refresh_from_db()
    assert candidate.status == "open" and candidate.decided_at is None
    assert not DismissedPair.all_shops.filter(shop=shop).exists()
    assert not AuditEvent.objects.filter(event="duplicate.dismissed").exists()


def test_reviewer_dismisses_once_with_audit_and_remembered_pairs(queue):
    _, shop, _, reviewer = queue
    candidate = DuplicateCandidate.all_shops.filter(shop=shop, status="open").first()
    client = api_client(user=reviewer)
    response = client.post(
        f"{URL}{candidate.pk}/dismiss/", {"reason": "  twins, different people "}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "dismissed"
    assert response.json()["status_reason"] == "twins, different people"
    members = sorted(candidate.members)
    pairs = len(members) * (len(members) - 1) // 2
    assert DismissedPair.all_shops.filter(shop=shop, candidate=candidate).count() == pairs
    event = AuditEvent.objects.get(event="duplicate.dismissed", target_id=str(candidate.pk))
    assert event.actor_user_id == reviewer.pk and event.shop_id == shop.id
    assert "twins" not in str(event.data)  # the free-text reason stays out of the audit log
    assert rows(client, {"status": "dismissed"})[0]["id"] == candidate.pk

    again = client.post(f"{URL}{candidate.pk}/dismiss/", {"reason": "sure"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_open"
    assert AuditEvent.objects.filter(event="duplicate.dismissed").count() == 1


def test_write_key_may_dismiss_and_foreign_ids_answer_404(queue):
    agency, shop, _, _ = queue
    candidate = DuplicateCandidate.all_shops.filter(shop=shop, status="open").first()
    stranger = user_factory()
    membership_factory(agency=agency_factory(), user=stranger, role=Role.OWNER)
    foreign = api_client(user=stranger)
    assert foreign.get(f"{URL}{candidate.pk}/").status_code == 404
    response = foreign.post(f"{URL}{candidate.pk}/dismiss/", {"reason": "no"}, format="json")
    assert response.status_code == 404
    assert foreign.get(URL).json()["results"] == []
    assert DuplicateCandidate.all_shops.get(pk=candidate.pk).status == "open"

    _, write_key = api_key_factory(agency=agency, scope="write")
    response = api_client(key=write_key).post(
        f"{URL}{candidate.pk}/dismiss/", {"reason": "checked by our CRM"}, format="json"
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(event="duplicate.dismissed", target_id=str(candidate.pk))
    assert event.actor.startswith("api_key:") and event.actor_user_id is None
