"""Property: for generated queries and customers, the SQL the compiler produces selects exactly
the customers the Python evaluator accepts (same AST, same data).

Runs on the configured database (PostgreSQL in the suite). For SQLite run the same test with
`DATABASE_URL=sqlite:////tmp/segments.sqlite3` (see docs/segment-language.md).
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segments.query import parse_query
from segments.query.ast import (
    DATE_KINDS,
    And,
    Condition,
    FunctionCondition,
    Literal,
    LiteralKind,
    Operator,
    Or,
)
from segments.query.compile import compile_for_shops, live_customers
from segments.query.dates import interval
from segments.query.evaluate import matches
from segments.query.normalise import to_text
from segments.query.registry import ATTRIBUTES, Kind
from segments.tests.query.mirror_data import facts_of, insert_customer
from tenants.scoping import shop_scope
from tenants.tests.factories import agency_factory, shop_factory

# A month end next to Europe's DST change, so offsets and day edges are exercised.
NOW = datetime(2024, 3, 31, 10, 30, tzinfo=UTC)
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Pacific/Auckland"]
SHOP_DOMAIN = "equivalence.myshopify.com"

TAGS = ["vip", "VIP", "Wholesale", "sports wear", "b_2", "50%", "été"]
COUNTRIES = ["US", "CA", "FR"]
PROVINCES = ["NY", "QC", ""]
CITIES = ["New York City", "new-york city", "Montréal", "Paris", ""]
DOMAINS = ["example.com", "Example.COM", "shop.fr", "a_b.io"]
LOCALES = ["", "fr", "fr-CA", "en", "EN-us"]
AMOUNTS = [Decimal(x) for x in ("0", "10", "10.50", "999.99", "1000", "1200.5")]
PRODUCT_IDS = [1, 2, 3, 2012162031638]


# --- data -------------------------------------------------------------------------------------
# Few distinct days, so generated data and query values land on the same days and edges:
# -1m from March 31 is February 29 (-31 days), -1y is 2023-03-31 (-366 days), and Paris
# changes to summer time today.
DAYS = [-366, -365, -31, -30, -1, 0, 1]


def local_day_start(day_offset: int, zone: str) -> datetime:
    day = NOW.date() + timedelta(days=day_offset)
    return datetime.combine(day, datetime.min.time()).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def instants(zone: str, edges: list[datetime]):
    """Instants on those days, mostly on local day edges (midnight, +/- a second), and on the
    exact edges of the query's own date values."""
    day_edges = st.builds(
        lambda day, edge_zone, second: local_day_start(day, edge_zone) + timedelta(seconds=second),
        st.sampled_from(DAYS),
        st.sampled_from([zone] * 6 + ZONES),
        st.sampled_from([-1, 0, 0, 0, 1, 3600 * 12]),
    )
    if not edges:
        return day_edges
    query_edges = st.builds(
        lambda edge, second: edge + timedelta(seconds=second),
        st.sampled_from(edges),
        st.sampled_from([-1, 0, 0]),
    )
    return st.one_of(day_edges, query_edges, query_edges)


def query_edges(root, zone: str) -> list[datetime]:
    """Start and end of every date value in the query, in the shop's zone."""
    found = []

    def visit(node):
        if isinstance(node, And | Or):
            for item in node.items:
                visit(item)
        elif isinstance(node, FunctionCondition):
            for param in node.params:
                visit(param)
        else:
            for value in node.values:
                if value.kind in DATE_KINDS:
                    span = interval(value, now=NOW, zone=ZoneInfo(zone))
                    found.extend([span.start, span.end])

    visit(root)
    return sorted(set(found))


addresses = st.fixed_dictionaries(
    {
        "country_code": st.sampled_from([*COUNTRIES, ""]),
        "province_code": st.sampled_from(PROVINCES),
        "city": st.sampled_from(CITIES),
    }
)


def orders(zone, edges):
    return st.fixed_dictionaries(
        {
            "processed_at": instants(zone, edges),
            "total_price": st.sampled_from(AMOUNTS),
            "product_ids": st.lists(st.sampled_from(PRODUCT_IDS), max_size=3, unique=True),
            "product_tags": st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
            "cancelled": st.booleans(),
        }
    )


def customers(zone, edges):
    maybe_instant = st.one_of(st.none(), instants(zone, edges), instants(zone, edges))
    return st.fixed_dictionaries(
        {
            "email": st.one_of(
                st.just(""), st.sampled_from(DOMAINS).map(lambda domain: f"someone@{domain}")
            ),
            "state": st.sampled_from(ATTRIBUTES["customer_account_status"].values),
            "tags": st.lists(st.sampled_from(TAGS), max_size=3, unique=True),
            "locale": st.sampled_from(LOCALES),
            "number_of_orders": st.integers(min_value=0, max_value=4),
            "amount_spent": st.sampled_from(AMOUNTS),
            "first_order_at": maybe_instant,
            "last_order_at": maybe_instant,
            "abandoned_at": maybe_instant,
            "created_at": maybe_instant,
            "email_marketing_state": st.sampled_from(["", "SUBSCRIBED", "NOT_SUBSCRIBED"]),
            "sms_marketing_state": st.sampled_from(["", "SUBSCRIBED", "PENDING"]),
            "default_address": st.one_of(st.just({}), addresses),
            "addresses": st.lists(addresses, max_size=2),
            "predicted_spend_tier": st.sampled_from(["", "HIGH", "LOW"]),
            "score": st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {
                        "rfm_group": st.sampled_from(ATTRIBUTES["rfm_group"].values),
                        "predicted_spend_tier": st.sampled_from(["", "MEDIUM", "LOW"]),
                    }
                ),
            ),
            "orders": st.lists(orders(zone, edges), max_size=3),
            "duplicate_candidates": st.lists(
                st.sampled_from(["open", "dismissed", "merge_requested", "merged"]), max_size=2
            ),
        }
    )


# --- queries (drawn from the registry) --------------------------------------------------------
def lit(kind, text):
    return Literal(LiteralKind(kind), text)


date_literals = st.one_of(
    st.sampled_from(DAYS).map(lambda d: lit("date", (NOW.date() + timedelta(days=d)).isoformat())),
    st.builds(
        lambda d, h: lit(
            "datetime", f"{(NOW.date() + timedelta(days=d)).isoformat()}T{h:02d}:00:00"
        ),
        st.sampled_from(DAYS),
        st.sampled_from([0, 12, 20, 23]),
    ),
    st.sampled_from(
        ["-1d", "-30d", "-31d", "-366d", "+1d", "-1w", "-1m", "-12m", "-1y", "+1m"]
    ).map(lambda text: lit("offset", text)),
    st.sampled_from([lit("named_date", "today"), lit("named_date", "yesterday")]),
)
STRING_VALUES = {
    "customer_tags": [*TAGS, "other"],
    "customer_countries": [*COUNTRIES, "us", "DE"],
    "customer_regions": ["US-NY", "CA-QC", "ca-qc", "FR-NY"],
    "customer_cities": ["US-NY-NewYorkCity", "CA-QC-Montréal", "FR--Paris", "US--Paris"],
    "customer_email_domain": [*DOMAINS, "other.com"],
    "customer_language": ["fr", "fr-CA", "en", "en-US", "de"],
    "shop": [SHOP_DOMAIN, "other.myshopify.com"],
}


def values_for(kind: Kind, name: str, attribute=None):
    if kind == Kind.DATE:
        return date_literals
    if kind == Kind.FLOAT:
        return st.sampled_from(AMOUNTS).map(lambda a: lit("number", str(a)))
    if kind == Kind.INTEGER:
        return st.integers(min_value=0, max_value=4).map(lambda n: lit("number", str(n)))
    if kind == Kind.ID:
        return st.sampled_from(PRODUCT_IDS).map(lambda n: lit("number", str(n)))
    if kind == Kind.ENUM:
        return st.sampled_from(attribute.values).map(lambda v: lit("string", v))
    if name == "tag":
        return st.sampled_from(TAGS).map(lambda v: lit("string", v))
    return st.sampled_from(STRING_VALUES[name]).map(lambda v: lit("string", v))


@st.composite
def condition(draw, name, kind, operators, attribute=None):
    operator = draw(st.sampled_from(operators))
    values = values_for(kind, name, attribute)
    if operator in (Operator.IS_NULL, Operator.IS_NOT_NULL):
        chosen = ()
    elif operator == Operator.BETWEEN:
        chosen = tuple(draw(st.lists(values, min_size=2, max_size=2)))
        if kind != Kind.DATE:
            chosen = tuple(sorted(chosen, key=lambda v: v.number))
    elif operator in (Operator.IN, Operator.NOT_IN):
        chosen = tuple(draw(st.lists(values, min_size=1, max_size=3)))
    else:
        chosen = (draw(values),)
    return Condition(name, operator, chosen)


# Dates and functions carry the subtle rules (day edges, zones, counts): drawn three times as often.
# `group` reads group-set assignments, which segments/tests/test_groups.py covers.
CLAUSE_ATTRIBUTES = [
    a.name
    for a in ATTRIBUTES.values()
    if not a.unavailable and a.name != "group"
    for _ in range(3 if a.kind in (Kind.DATE, Kind.FUNCTION) else 1)
]


@st.composite
def clause(draw):
    attribute = ATTRIBUTES[draw(st.sampled_from(CLAUSE_ATTRIBUTES))]
    if attribute.kind != Kind.FUNCTION:
        return draw(condition(attribute.name, attribute.kind, attribute.operators, attribute))
    chosen = draw(
        st.lists(st.sampled_from(attribute.params), unique_by=lambda p: p.name, max_size=3)
    )
    params = tuple(draw(condition(p.name, p.kind, p.allowed_operators)) for p in chosen)
    return FunctionCondition(attribute.name, draw(st.booleans()), params)


queries = st.recursive(
    clause(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
    ),
    max_leaves=5,
)


@pytest.mark.django_db(transaction=False)
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=queries, zone=st.sampled_from(ZONES), data=st.data())
def test_sql_equals_python_evaluator(query, zone, data):
    # Through the text and back: the generated AST must be a valid, canonical query.
    root = parse_query(to_text(query)).root
    edges = query_edges(root, zone)
    people = data.draw(st.lists(customers(zone, edges), min_size=1, max_size=12), label="people")
    with transaction.atomic():
        shop = shop_factory(agency=agency_factory(), domain=SHOP_DOMAIN, timezone=zone)
        rows = [insert_customer(shop, spec) for spec in people]
        with shop_scope([shop.pk]):
            found = set(
                live_customers()
                .filter(compile_for_shops(root, shops=[shop], now=NOW))
                .values_list("pk", flat=True)
            )
        expected = {
            row.pk
            for row, spec in zip(rows, people, strict=True)
            if matches(root, facts_of(shop, spec), now=NOW, zone=ZoneInfo(zone))
        }
        transaction.set_rollback(True)
    assert found == expected, to_text(root)


def test_generated_queries_cover_every_available_attribute():
    names = {a.name for a in ATTRIBUTES.values() if not a.unavailable} - {"group"}
    assert names - {"products_purchased", "orders_placed"} <= set(STRING_VALUES) | {
        a.name
        for a in ATTRIBUTES.values()
        if a.kind in (Kind.DATE, Kind.FLOAT, Kind.INTEGER, Kind.ENUM)
    }
    assert date(2024, 3, 31) == NOW.date()
