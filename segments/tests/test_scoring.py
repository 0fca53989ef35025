from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from audit.models import AuditEvent
from segments import scoring
from segments.models import CustomerScore
from segments.query import parse_query
from segments.query.compile import compile_for_shops, live_customers
from segments.services import customer_scores_refresh
from segments.tests.query.mirror_data import insert_customer
from tenants.scoping import shop_scope
from tenants.tests.factories import agency_factory, shop_factory

NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("r", "f", "m", "group"),
    [
        (5, 5, 5, "CHAMPIONS"),
        (5, 1, 1, "NEW"),
        (4, 1, 1, "PROMISING"),
        (4, 4, 4, "LOYAL"),
        (5, 2, 3, "ACTIVE"),
        (3, 3, 3, "NEEDS_ATTENTION"),
        (3, 1, 2, "ALMOST_LOST"),
        (2, 3, 4, "AT_RISK"),
        (1, 5, 5, "PREVIOUSLY_LOYAL"),
        (1, 1, 1, "DORMANT"),
    ],
)
def test_group_grid(r, f, m, group):
    assert scoring.rfm_group(r, f, m) == group


def test_grid_uses_shopifys_eleven_groups_only():
    from segments.query.registry import RFM_GROUPS

    produced = {
        scoring.rfm_group(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)
    }
    assert produced | {"PROSPECTS"} == set(RFM_GROUPS)


def test_quintiles():
    assert [scoring.quintile_score(x) for x in (0, 0.19, 0.2, 0.5, 0.79, 0.8, 1.0)] == [
        1,
        1,
        2,
        3,
        4,
        5,
        5,
    ]


def test_refresh_scores_a_store_in_the_database(db):
    shop = shop_factory(agency=agency_factory())
    # Ten buyers: i = 0 is the oldest, least frequent, smallest spender; i = 9 the best.
    buyers = [
        insert_customer(
            shop,
            {
                "number_of_orders": 1 + i,
                "amount_spent": Decimal(10 * (i + 1)),
                "last_order_at": NOW - timedelta(days=400 - 40 * i),
            },
        )
        for i in range(10)
    ]
    prospect = insert_customer(shop, {})
    gone = insert_customer(
        shop, {"number_of_orders": 1, "amount_spent": Decimal(5), "last_order_at": NOW}
    )

    summary = customer_scores_refresh(shop_id=shop.pk)
    assert (summary.scored, summary.prospects) == (11, 1)
    scores = {s.customer_id: s for s in CustomerScore.all_shops.filter(shop=shop)}
    assert scores[buyers[9].pk].rfm_group == "CHAMPIONS"
    assert scores[buyers[9].pk].predicted_spend_tier == "HIGH"
    assert scores[buyers[0].pk].rfm_group == "DORMANT"
    assert scores[buyers[0].pk].predicted_spend_tier == "LOW"
    assert (scores[prospect.pk].rfm_group, scores[prospect.pk].recency) == ("PROSPECTS", None)

    # A customer that leaves the mirror loses its score; a rerun is stable.
    gone.deleted_at = NOW
    gone.save()
    again = customer_scores_refresh(shop_id=shop.pk)
    assert (again.scored, again.prospects, again.removed) == (10, 1, 1)
    assert not CustomerScore.all_shops.filter(customer=gone).exists()
    assert (
        AuditEvent.objects.filter(event="segments.scores_refreshed", shop_id=shop.pk).count() == 2
    )

    root = parse_query("rfm_group = 'CHAMPIONS' OR rfm_group = 'PROSPECTS'").root
    with shop_scope([shop.pk]):
        found = set(
            live_customers()
            .filter(compile_for_shops(root, shops=[shop], now=NOW))
            .values_list("pk", flat=True)
        )
    assert prospect.pk in found and buyers[9].pk in found and buyers[0].pk not in found
