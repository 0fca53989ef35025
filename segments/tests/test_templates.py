import pytest
from django.core.exceptions import ValidationError

from segments.models import Segment
from segments.query import parse_query
from segments.services import segment_template_apply
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
