import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from segments.models import Segment, SegmentTemplate
from segments.query import SegmentQueryError, parse_query
from segments.services import (
    segment_template_apply,
    segment_template_create,
    segment_template_update,
)
from segments.templates import LIBRARY, render
from tenants.tests.factories import agency_factory, shop_factory


@pytest.mark.parametrize("key", sorted(LIBRARY))
def test_every_library_template_renders_a_valid_query(key):
    assert parse_query(render(LIBRARY[key])).text


def test_parameters_are_typed_and_quoted():
    assert (
        render(LIBRARY["lapsed"], {"days": 60})
        == "number_of_orders >= 1 AND last_order_date < -60d"
    )
    assert render(LIBRARY["tagged"], {"tag": "it's VIP"}) == "customer_tags CONTAINS 'it\\'s VIP'"
    assert parse_query(render(LIBRARY["tagged"], {"tag": "it's VIP"})).root.value.text == "it's VIP"
    with pytest.raises(ValidationError):
        render(LIBRARY["lapsed"], {"days": "ninety"})
    with pytest.raises(ValidationError):
        render(LIBRARY["lapsed"], {"weeks": 3})


def test_apply_to_many_shops_at_once(db):
    agency = agency_factory()
    shops = [shop_factory(agency=agency) for _ in range(3)]
    made = segment_template_apply(
        agency=agency,
        template_key="lapsed",
        params={"days": 180},
        shop_ids=[s.pk for s in shops[:2]],
    )
    assert sorted(s.name for s in made) == sorted(
        f"Lapsed customers · {s.domain}" for s in shops[:2]
    )
    assert {s.query for s in made} == {"number_of_orders >= 1 AND last_order_date < -180d"}
    one = segment_template_apply(agency=agency, template_key="never-ordered", one_per_shop=False)
    assert one[0].all_shops and one[0].name == "Never ordered"
    with pytest.raises(ValidationError):  # a name clash anywhere: nothing is created
        segment_template_apply(
            agency=agency,
            template_key="lapsed",
            params={"days": 180},
            shop_ids=[s.pk for s in shops],
        )
    assert Segment.objects.count() == 3


def test_parameter_values_are_type_checked_with_clear_errors():
    lapsed, spenders, tagged = LIBRARY["lapsed"], LIBRARY["high-spenders"], LIBRARY["tagged"]
    for template, params, message in [
        (lapsed, {"days": 12.5}, "not a whole number"),
        (lapsed, {"days": True}, "not a whole number"),
        (lapsed, {"days": -3}, "negative"),
        (spenders, {"amount": "lots"}, "not a number"),
        (spenders, {"amount": "NaN"}, "not a number"),
        (tagged, {"tag": ["a", "b"]}, "not text"),
        (tagged, {"tag": 7}, "not text"),
    ]:
        with pytest.raises(ValidationError) as caught:
            render(template, params)
        (name,) = caught.value.message_dict
        assert name == next(iter(params)) and message in caught.value.message_dict[name][0]
    assert render(spenders, {"amount": "250.5"}) == "amount_spent >= 250.5"


def test_agency_template_definitions_are_checked(db):
    agency = agency_factory()

    def refused(**changes):
        data = {
            "key": "big-buyers",
            "name": "Big buyers",
            "query": "amount_spent >= {amount} AND last_order_date >= {since}",
            "parameters": [
                {"name": "amount", "kind": "number", "default": 100},
                {"name": "since", "kind": "date"},
            ],
            **changes,
        }
        with pytest.raises((ValidationError, SegmentQueryError)) as caught:
            segment_template_create(agency=agency, **data)
        return caught.value

    unused = refused(query="amount_spent >= {amount}").message_dict
    assert unused == {"parameters": ["Not used in the query: since."]}
    assert "Placeholders without a parameter: days" in str(
        refused(query="amount_spent >= {amount} AND last_order_date >= {since} OR x = {days}")
    )
    bad_default = refused(parameters=[{"name": "amount", "kind": "number", "default": "a lot"}])
    assert "default" in str(bad_default) and "not a number" in str(bad_default)
    assert "kind" in str(refused(parameters=[{"name": "amount", "kind": "money"}]))
    assert "is a library template" in str(refused(key="lapsed"))
    query_error = refused(query="amount_spnt >= {amount} AND last_order_date >= {since}")
    assert isinstance(query_error, SegmentQueryError)
    assert query_error.errors[0].suggestion == "amount_spent"
    assert not SegmentTemplate.objects.exists()


def test_an_agency_template_is_applied_to_many_shops_at_once(db):
    agency = agency_factory()
    shops = [shop_factory(agency=agency) for _ in range(3)]
    template = segment_template_create(
        agency=agency,
        key="big-buyers",
        name="Big buyers",
        query="amount_spent >= {amount} AND customer_tags CONTAINS {tag}",
        parameters=[
            {"name": "amount", "kind": "number", "default": 100},
            {"name": "tag", "kind": "string"},
        ],
    )
    with pytest.raises(ValidationError) as caught:  # `tag` has no default
        segment_template_apply(agency=agency, template_key="big-buyers")
    assert "Required" in caught.value.message_dict["tag"][0]
    made = segment_template_apply(
        agency=agency, template_key="big-buyers", params={"tag": "vip", "amount": "250"}
    )
    assert sorted(s.name for s in made) == sorted(f"Big buyers · {s.domain}" for s in shops)
    assert {s.query for s in made} == {"amount_spent >= 250 AND customer_tags CONTAINS 'vip'"}
    event = AuditEvent.objects.get(event="segment_template.applied")
    assert sorted(event.data["segments"]) == sorted(s.pk for s in made)

    segment_template_update(agency=agency, template_id=template.pk, name="Whales")
    (one,) = segment_template_apply(
        agency=agency,
        template_key="big-buyers",
        params={"tag": "vip"},
        shop_ids=[shops[0].pk, shops[1].pk],
        one_per_shop=False,
    )
    assert one.name == "Whales" and sorted(s.pk for s in one.shops.all()) == [
        shops[0].pk,
        shops[1].pk,
    ]
    other = agency_factory()
    with pytest.raises(ValidationError):  # another agency cannot use it
        segment_template_apply(agency=other, template_key="big-buyers", params={"tag": "x"})
