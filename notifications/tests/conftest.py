"""Fixtures of the outgoing webhook tests: a real local HTTP receiver and a small store."""

import pytest

from notifications.tests.receiver import start_receiver
from segments.services import segment_create
from segments.tests.query.mirror_data import insert_customer
from tenants.tests.factories import agency_factory, api_client, api_key_factory, shop_factory


@pytest.fixture
def receiver():
    found, server = start_receiver()
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture
def world():
    agency = agency_factory()
    shop = shop_factory(agency=agency)
    buyers = [insert_customer(shop, {"number_of_orders": 2}) for _ in range(3)]
    browser = insert_customer(shop, {"number_of_orders": 0})
    segment = segment_create(
        agency=agency, name="Buyers", query="number_of_orders >= 1", shop_ids=[shop.pk]
    )
    _, key = api_key_factory(agency=agency, scope="write")
    _, read_key = api_key_factory(agency=agency, scope="read", name="reader")
    return {
        "agency": agency,
        "shop": shop,
        "buyers": buyers,
        "browser": browser,
        "segment": segment,
        "client": api_client(key=key),
        "reader": api_client(key=read_key),
    }
