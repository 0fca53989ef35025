"""Blocking keys: which duplicates meet through which key, the share cap, incremental == full."""

import pytest

from customers.models import Customer, CustomerAddress
from customers.privacy import customer_redact
from customers.tests.test_privacy import MARKERS, mirrored, personal_data_hits  # noqa: F401
from merges.detection.blocking import (
    MAX_KEY_SHARE,
    blocking_keys_rebuild,
    blocking_keys_rebuild_with_pairs,
    blocking_keys_refresh,
    candidate_pairs,
    candidates_of,
    match_fields_load,
)
from merges.detection.keys import blocking_keys
from merges.detection.normalize import match_fields
from merges.models import BlockingKey
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), country_code="GB")


def customer(shop, n: int, *, address1: str = "", postcode: str = "", **fields) -> Customer:
    row = Customer.all_shops.create(
        shop=shop, shopify_id=n, gid=f"gid://shopify/Customer/{n}", **fields
    )
    if address1 or postcode:
        CustomerAddress.all_shops.create(
            shop=shop,
            customer=row,
            shopify_id=n,
            is_default=True,
            address1=address1,
            zip=postcode,
            country_code="GB",
        )
        Customer.all_shops.filter(pk=row.pk).update(
            default_address_zip=postcode, default_address_country_code="GB"
        )
    return row


def pairs(shop) -> set[tuple[int, int]]:
    return {tuple(p) for p in candidate_pairs(shop_id=shop.id).tolist()}


def keys_of(**fields) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for key_type, value in blocking_keys(match_fields(customer_id=1, **fields)):
        found.setdefault(key_type, set()).add(value)
    return found


@pytest.mark.parametrize(
    ("one", "other", "key_type"),
    [
        ({"email": "ann.lee@gmail.com"}, {"email": "annlee@gmial.com"}, "email"),
        ({"email": "ann.lee77@gmail.com"}, {"email": "ann.lee77@web.de"}, "email_local"),
        ({"phone": "+44 20 7946 0958"}, {"phone": "020 7946 0958", "country_code": "GB"}, "phone"),
        ({"phone": "+44 20 7946 0958"}, {"phone": "20 7946 0958"}, "phone_last9"),
        (
            {"first_name": "Catherine", "last_name": "Smyth"},
            {"first_name": "C.", "last_name": "Smith"},
            "sound_initial",
        ),
        (
            {"first_name": "Maria", "last_name": "Jose"},
            {"first_name": "Jose", "last_name": "Maria"},
            "name_pair",
        ),
        (
            {"first_name": "Jan", "last_name": "van den Broek"},
            {"first_name": "Jan", "last_name": "Vandenbroek"},
            "name_pair",
        ),
        (
            {"first_name": "Ana", "last_name": "García López"},
            {"first_name": "Ana", "last_name": "García"},
            "name_pair",
        ),
        (
            {"first_name": "Jörg", "last_name": "Müller"},
            {"first_name": "Joerg", "last_name": "Mueller"},
            "name_pair",
        ),
        (
            {"first_name": "Bob", "last_name": "Stone"},
            {"first_name": "Robert", "last_name": "Stone"},
            "formal_pair",
        ),
        (
            {"address1": "Flat 4, 12 Baker St", "postcode": "SW1A 1AA"},
            {"address1": "12 Baker Street", "postcode": "sw1a1aa"},
            "postcode_house",
        ),
        ({"address1": "Hauptstraße 5"}, {"address1": "Hauptstr. 5"}, "street_house"),
        # the name with one coarse attribute: selective where the name alone is too common
        (
            {"first_name": "Lena", "last_name": "Schmitz", "email": "lena.schmitz@gmx.de"},
            {"first_name": "Lena", "last_name": "Schmitz", "email": "lena.cshmitz@gmx.net"},
            "name_mail_tail",
        ),
        (
            {"first_name": "Ann", "last_name": "Lee", "postcode": "SW1A 1AA"},
            {"first_name": "Lee", "last_name": "Ann", "postcode": "SW1P 3BU"},
            "name_area",
        ),
        (
            {"first_name": "Lena", "last_name": "Schmitz", "email": "lena.schmitz85@gmx.de"},
            {"first_name": "Lena", "last_name": "Schmitz", "email": "lenaschmitz85@posteo.de"},
            "name_local_tail",
        ),
        (
            {"first_name": "Lena", "last_name": "Schmitz", "email": "lena.schmitz@gmx.de"},
            {"first_name": "Lena", "last_name": "Schmitz", "email": "lena.schmtiz@gmx.de"},
            "name_mail_len",
        ),
        (
            {"first_name": "Paul", "last_name": "Hahn", "phone": "+49 173 7549390"},
            {"first_name": "Hahn", "last_name": "Paul", "phone": "+49 173 7549350"},
            "name_phone_head",
        ),
        (
            {"first_name": "Paul", "last_name": "Hahn", "phone": "+49 173 7549390"},
            {"first_name": "Paul", "last_name": "Hahn", "phone": "+49 175 7549390"},
            "name_phone_tail",
        ),
        (
            {
                "first_name": "Margarete",
                "last_name": "Neumann",
                "address1": "Königsallee 157",
                "postcode": "97079",
            },
            {
                "first_name": "Grete",
                "last_name": "Neumann",
                "address1": "Koenigsallee 157",
                "postcode": "97079",
            },
            "house_sound",
        ),
    ],
)
def test_duplicates_share_a_key_of_the_expected_type(one, other, key_type):
    shared = keys_of(**one).get(key_type, set()) & keys_of(**other).get(key_type, set())
    assert shared, (keys_of(**one), keys_of(**other))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (
            {"address1": "12 Baker Street", "postcode": "NW1 6XE"},
            {"address1": "21 Baker Street", "postcode": "NW1 6XE"},
        ),
        ({"email": "info@shop-a.com"}, {"email": "info@shop-b.com"}),  # generic local: no key
        (
            {"first_name": "John", "last_name": "Smith"},
            {"first_name": "Joan", "last_name": "Smithers"},
        ),
    ],
)
def test_different_people_share_no_key(one, other):
    assert not (
        blocking_keys(match_fields(customer_id=1, **one))
        & blocking_keys(match_fields(customer_id=2, **other))
    )


def test_full_scan_pairs_and_share_cap(shop):
    ann = customer(shop, 1, first_name="Ann", last_name="Lee", email="ann.lee@gmail.com")
    ann2 = customer(shop, 2, first_name="Anne", last_name="Lee", email="annlee@gmial.com")
    bob = customer(shop, 3, first_name="Bob", last_name="Stone", phone="+44 20 7946 0958")
    robert = customer(
        shop, 4, first_name="Robert", last_name="Stone", address1="1 High St", postcode="AB1 2CD"
    )
    # The store's own phone typed by many guests: the key is skipped, they are not all paired.
    guests = [
        customer(
            shop, 100 + i, first_name=f"Guest{i}", last_name=f"Buyer{i}", phone="+44 20 7000 0000"
        )
        for i in range(MAX_KEY_SHARE + 1)
    ]
    gone = customer(shop, 5, first_name="Ann", last_name="Lee", email="ann.lee@gmail.com")
    Customer.all_shops.filter(pk=gone.pk).update(redacted_at="2026-01-01T00:00:00Z")

    written = blocking_keys_rebuild(shop_id=shop.id)

    assert written == BlockingKey.all_shops.filter(shop=shop).count() > 0
    assert not BlockingKey.all_shops.filter(customer=gone).exists()
    found = pairs(shop)
    assert (ann.id, ann2.id) in found and (bob.id, robert.id) in found
    assert not any(a in {g.id for g in guests} and b in {g.id for g in guests} for a, b in found)
    assert candidates_of(shop_id=shop.id, customer_id=ann.id) == [ann2.id]
    assert candidates_of(shop_id=shop.id, customer_id=guests[0].id) == []


def test_a_name_too_common_for_a_key_still_meets_its_duplicate_through_an_attribute(shop):
    """In a large store a name is held by more customers than the share cap and is no key: the
    duplicate with a typo in its email (no address, no phone) meets its original through the
    name with the mail provider and the end of the local part; namesakes elsewhere do not."""
    namesakes = [
        customer(shop, 10 + i, first_name="Lena", last_name="Schmitz", email=f"ls{i:02d}x@web.de")
        for i in range(MAX_KEY_SHARE + 2)
    ]
    original = customer(
        shop, 1, first_name="Lena", last_name="Schmitz", email="lena.schmitz@gmx.de"
    )
    typo = customer(shop, 2, first_name="Lena", last_name="Schmitz", email="lena.cshmitz@gmx.de")

    blocking_keys_rebuild(shop_id=shop.id)

    assert candidates_of(shop_id=shop.id, customer_id=typo.id) == [original.id]
    found = pairs(shop)
    assert (original.id, typo.id) in found
    ids = {n.id for n in namesakes}
    assert not any(a in ids and b in ids for a, b in found)  # the name alone is over the cap


def test_incremental_refresh_equals_full_scan(shop):
    ann = customer(shop, 1, first_name="Ann", last_name="Lee", email="ann.lee@gmail.com")
    other = customer(shop, 2, first_name="Zed", last_name="Quill", email="zed@example.org")
    customer(
        shop, 3, first_name="Zed", last_name="Quillan", address1="7 Mill Lane", postcode="AB1 2CD"
    )
    blocking_keys_rebuild(shop_id=shop.id)

    Customer.all_shops.filter(pk=other.pk).update(first_name="Ann", last_name="Lee")
    blocking_keys_refresh(shop_id=shop.id, customer_ids=[other.id])
    incremental_keys = set(
        BlockingKey.all_shops.filter(shop=shop).values_list("customer_id", "key_type", "key_value")
    )
    incremental = candidates_of(shop_id=shop.id, customer_id=other.id)

    blocking_keys_rebuild(shop_id=shop.id)
    assert (
        set(
            BlockingKey.all_shops.filter(shop=shop).values_list(
                "customer_id", "key_type", "key_value"
            )
        )
        == incremental_keys
    )
    assert incremental == candidates_of(shop_id=shop.id, customer_id=other.id) == [ann.id]


def test_keys_are_per_shop(shop):
    other_shop = shop_factory(agency=agency_factory(), country_code="GB")
    mine = customer(shop, 1, first_name="Ann", last_name="Lee")
    customer(other_shop, 1, first_name="Ann", last_name="Lee")
    blocking_keys_rebuild(shop_id=shop.id)
    blocking_keys_rebuild(shop_id=other_shop.id)
    assert candidates_of(shop_id=shop.id, customer_id=mine.id) == []
    assert pairs(shop) == set()


def test_redacted_customer_leaves_no_keys(shop, mirrored):  # noqa: F811
    blocking_keys_rebuild(shop_id=mirrored.shop_id)
    assert BlockingKey.all_shops.filter(customer=mirrored).exists()
    customer_redact(shop=mirrored.shop, shopify_customer_id=77)
    assert not BlockingKey.all_shops.filter(customer=mirrored).exists()
    assert not [hit for hit in personal_data_hits(MARKERS) if hit[0] == BlockingKey._meta.db_table]


def test_names_and_phone_fall_back_to_the_default_address(shop):
    # Shopify customers often carry their name and phone only on the address they checked out with.
    named = customer(shop, 1, first_name="Ann", last_name="Lee")
    bare = customer(shop, 2, address1="7 Mill Lane", postcode="AB1 2CD")
    CustomerAddress.all_shops.filter(customer=bare).update(
        first_name="Ann", last_name="Lee", phone="+44 20 7946 0958"
    )
    blocking_keys_rebuild(shop_id=shop.id)
    assert candidates_of(shop_id=shop.id, customer_id=bare.id) == [named.id]
    assert BlockingKey.all_shops.filter(
        customer=bare, key_type="phone", key_value="+442079460958"
    ).exists()


def test_full_scan_pairs_in_memory_equal_the_pairs_read_from_the_table(shop):
    """The full scan lists its pairs from the keys as it writes them; they must be exactly what
    the key table answers (share cap included), and the table must keep serving lookups."""
    people = [("Ann", "Lee"), ("Bob", "Smith"), ("Robert", "Smith"), ("Zed", "Quill")]
    for n in range(60):
        first, last = people[n % len(people)]
        customer(
            shop,
            n + 1,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}{n % 7}@gmail.com",
            phone=f"+44 20 7946 {n % 9:04d}",
            address1=f"{n % 5} Mill Lane",
            postcode="AB1 2CD",
        )
    other_shop = shop_factory(agency=agency_factory(), country_code="GB")
    customer(other_shop, 1, first_name="Ann", last_name="Lee", email="ann.lee0@gmail.com")
    blocking_keys_rebuild(shop_id=other_shop.id)
    records = match_fields_load(shop_id=shop.id)

    written, in_memory = blocking_keys_rebuild_with_pairs(shop_id=shop.id, records=records)

    from_table = pairs(shop)
    assert written == BlockingKey.all_shops.filter(shop=shop).count()
    assert {tuple(p) for p in in_memory.tolist()} == from_table
    assert 0 < len(from_table) < 60 * 59 / 2  # some keys shared, the crowded ones skipped
    # a rebuild swaps the shop's keys only; the incremental path writes into the same table
    assert BlockingKey.all_shops.filter(shop=other_shop).count() > 0
    late = customer(shop, 99, first_name="Zed", last_name="Quill", email="zed.quill3@gmail.com")
    blocking_keys_refresh(shop_id=shop.id, customer_ids=[late.id])
    same_mailbox = Customer.all_shops.filter(shop=shop, email="zed.quill3@gmail.com")
    assert same_mailbox.count() == 4  # customers 4, 32, 60 and the late one
    assert set(candidates_of(shop_id=shop.id, customer_id=late.id)) >= {
        c.id for c in same_mailbox if c.id != late.id
    }
    written_again, _ = blocking_keys_rebuild_with_pairs(
        shop_id=shop.id, records=match_fields_load(shop_id=shop.id)
    )
    assert written_again == BlockingKey.all_shops.filter(shop=shop).count() > written


def test_key_values_with_copy_special_characters_are_stored_as_they_are(shop):
    from django.db import connection

    from merges.detection.blocking import KEY_TABLE, _copy_keys

    row = customer(shop, 1, first_name="Ann")
    odd = "back\\slash\ttab\nnewline\rreturn"
    with connection.cursor() as cursor:  # a shop never scanned: the default partition
        assert _copy_keys(cursor, KEY_TABLE, shop.id, [(row.id, "street_house", odd)]) == 1
    assert BlockingKey.all_shops.get(shop=shop).key_value == odd


def test_keys_written_before_the_first_full_scan_move_into_the_shops_partition(shop):
    from django.db import connection

    from merges.detection.blocking import KEY_TABLE

    ann = customer(shop, 1, first_name="Ann", last_name="Lee", email="ann.lee@gmail.com")
    twin = customer(shop, 2, first_name="Ann", last_name="Lee", email="ann.lee@gmail.com")
    blocking_keys_refresh(shop_id=shop.id, customer_ids=[ann.id, twin.id])
    before = set(
        BlockingKey.all_shops.filter(shop=shop).values_list("customer_id", "key_type", "key_value")
    )
    assert candidates_of(shop_id=shop.id, customer_id=ann.id) == [twin.id]

    blocking_keys_rebuild(shop_id=shop.id)

    after = BlockingKey.all_shops.filter(shop=shop).values_list(
        "customer_id", "key_type", "key_value"
    )
    assert sorted(after) == sorted(before)  # each key once: none left behind in the default
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {KEY_TABLE}_default WHERE shop_id = %s", [shop.id])
        assert cursor.fetchone()[0] == 0
        cursor.execute(f"SELECT COUNT(*) FROM {KEY_TABLE}_s{shop.id}")
        assert cursor.fetchone()[0] == len(before)
