"""Table-driven tests of the matching normalisers, many locales and formats."""

import pytest

from merges.detection.nicknames import nickname_equivalent
from merges.detection.normalize import (
    canonical_domain,
    email_parts,
    fold_text,
    german_fold,
    mail_provider,
    match_fields,
    name_skeleton,
    parse_street_line,
    phone_last9,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane.Doe@Gmail.com", ("janedoe@gmail.com", "janedoe", "gmail.com")),
        ("jane.doe+shop@googlemail.com", ("janedoe@gmail.com", "janedoe", "gmail.com")),
        ("jane.doe@gmial.com", ("jane.doe@gmial.com", "janedoe", "gmail.com")),
        ("jane@gmail.de", ("jane@gmail.de", "jane", "gmail.com")),
        ("max@wep.de", ("max@wep.de", "max", "web.de")),
        ("max@t-onlin.de", ("max@t-onlin.de", "max", "t-online.de")),
        ("ann@hotmail.con", ("ann@hotmail.con", "ann", "hotmail.com")),
        ("ann@yahooo.com", ("ann@yahooo.com", "ann", "yahoo.com")),
        (" Ann.Lee@Example.ORG ", ("ann.lee@example.org", "ann.lee", "example.org")),
        ("marie@orange.com", ("marie@orange.com", "marie", "orange.com")),
        ("not-an-email", ("", "", "")),
        ("", ("", "", "")),
        (None, ("", "", "")),
    ],
)
def test_email_parts(raw, expected):
    assert email_parts(raw) == expected


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("gamil.com", "gmail.com"),
        ("gmaill.com", "gmail.com"),
        ("outlok.com", "outlook.com"),
        ("iclod.com", "icloud.com"),
        ("lbero.it", "libero.it"),
        ("gmx.dr", "gmx.de"),
        ("web.de", "web.de"),
        ("web.com", "web.com"),  # a real domain, not a slip of web.de
        ("mycompany.co.uk", "mycompany.co.uk"),
        ("", ""),
    ],
)
def test_canonical_domain(domain, expected):
    assert canonical_domain(domain) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 7700 900123", "700900123"),
        ("07700 900123", "700900123"),
        ("(030) 1234-5678", "012345678"),
        ("+49 30 12345678", "012345678"),
        ("12345", ""),
        ("", ""),
    ],
)
def test_phone_last9(raw, expected):
    assert phone_last9(raw) == expected


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Müller-Lüdenscheidt", "muller ludenscheidt"),
        ("José María", "jose maria"),
        ("  ANNE-marie ", "anne marie"),
        ("Łukasz", "lukasz"),
        ("Søren Ærø", "soren aero"),
        ("Strauß", "strauss"),
        ("O'Brien", "o brien"),
        ("Çağlar", "caglar"),
        ("Đorđević", "dordevic"),
        ("Δημήτρης", "δημητρησ"),  # casefold also folds the final sigma
        ("", ""),
    ],
)
def test_fold_text(raw, folded):
    assert fold_text(raw) == folded


@pytest.mark.parametrize(
    ("one", "other"), [("Müller", "Mueller"), ("Schröder", "Schroeder"), ("Jäger", "Jaeger")]
)
def test_german_fold_meets_transliteration(one, other):
    assert german_fold(fold_text(one)) == german_fold(fold_text(other))


@pytest.mark.parametrize(
    ("one", "other", "equivalent"),
    [
        ("bob", "robert", True),
        ("bill", "william", True),
        ("kate", "catherine", True),
        ("kate", "katherine", True),
        ("sam", "samuel", True),
        ("pepe", "jose", True),
        ("kasia", "katarzyna", True),
        ("hannes", "johannes", True),
        ("robert", "robert", True),
        ("john", "joan", False),
        ("samuel", "samantha", False),
        ("bob", "", False),
    ],
)
def test_nickname_equivalent(one, other, equivalent):
    assert nickname_equivalent(one, other) is equivalent


@pytest.mark.parametrize(
    ("raw", "house", "street"),
    [
        ("12 Baker Street", "12", "baker street"),
        ("12 Baker St", "12", "baker street"),
        ("Flat 4, 12 Baker St", "12", "baker street"),
        ("21 Baker Street", "21", "baker street"),
        ("Hauptstraße 5", "5", "hauptstr"),
        ("Hauptstr. 5", "5", "hauptstr"),
        ("hauptstrasse 5", "5", "hauptstr"),
        ("Kerkstraat 12a", "12a", "kerkstr"),
        ("Calle Mayor, 5", "5", "calle mayor"),
        ("C/ Mayor 5", "5", "calle mayor"),
        ("Avda. de la Constitución 3", "3", "avenida de la constitucion"),
        ("ul. Marszałkowska 10", "10", "marszalkowska"),
        ("12 rue de la Paix", "12", "rue de la paix"),
        ("Apt 3B 221 Main St", "221", "main street"),
        ("", "", ""),
    ],
)
def test_parse_street_line(raw, house, street):
    assert parse_street_line(raw) == (house, street)


@pytest.mark.parametrize(
    ("kwargs", "phone"),
    [
        ({"phone": "+44 20 7946 0958"}, "+442079460958"),
        ({"phone": "020 7946 0958", "country_code": "GB"}, "+442079460958"),
        ({"phone": "030 12345678", "default_region": "DE"}, "+493012345678"),
        ({"phone": "06 12 34 56 78", "country_code": "FR"}, "+33612345678"),
        ({"phone": "020 7946 0958"}, ""),  # national number, no region known
    ],
)
def test_match_fields_phone_uses_address_then_store_region(kwargs, phone):
    assert match_fields(customer_id=1, **kwargs).phone == phone


def test_match_fields_builds_every_key():
    fields = match_fields(
        customer_id=7,
        email="Bob.Smith@gmial.com",
        phone="+1 415 555 2671",
        first_name="Bob",
        last_name="Smith-Jones",
        address1="Flat 4, 12 Baker St",
        postcode="sw1a 1aa",
        city="London",
        country_code="GB",
    )
    assert fields.email_canonical == "bobsmith@gmail.com"
    assert fields.phone == "+14155552671" and fields.phone_last9 == "155552671"
    assert fields.first_formal == frozenset({"robert"})
    assert fields.last_name_tokens == ("smith", "jones")
    assert fields.surname_phonetic == "SM0"
    assert (fields.house_number, fields.street) == ("12", "baker street")
    assert fields.postcode == "SW1A1AA" and fields.city == "london" and fields.first_initial == "b"


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("mohammed", "muhammad", True),
        ("fyodorov", "fjodorow", True),
        ("vasiliev", "wassiljew", True),
        ("youssef", "yusuf", True),
        ("layla", "leila", True),
        ("yulia", "iuliia", True),
        ("mikhailov", "mikhaylov", True),
        ("schmidt", "shmidt", True),
        ("catherine", "katherine", True),
        ("julia", "yulia", True),  # an initial glide: y, j or i before a vowel
        ("yekaterina", "jekaterina", True),
        ("yekaterina", "ekaterina", True),  # Cyrillic ye: ye, je or e
        ("yelena", "elena", True),
        ("yevgeni", "evgeny", True),
        ("yuri", "iurii", True),
        ("aleksandr", "alexandr", True),  # ks / x
        ("ksenia", "xenia", True),
        ("maksim", "maxim", True),
        ("ahmed", "ahmet", True),  # a final d is spoken t
        ("mahmoud", "mahmud", True),
        ("julia", "lea", False),  # the glide counts: mother and daughter are not one name
        ("yulia", "lea", False),
        ("jean", "ann", False),  # je before a vowel is no Cyrillic ye
        ("jan", "ann", False),
        ("ines", "anais", False),  # an initial vowel counts
        ("emilie", "amelie", False),
        ("aisha", "ayesha", True),
        ("maria", "mario", False),  # male and female forms: the last letter differs
        ("daniel", "daniela", False),
        ("anna", "anne", False),
        ("jan", "jana", False),
        ("peter", "paul", False),
        ("johanna", "jana", False),  # a j or h that is sounded counts
        ("hannah", "johanna", False),
        ("mohammed", "ahmed", False),
        ("huseyin", "yasin", False),
    ],
)
def test_name_skeleton_meets_transliterations_not_other_names(one, other, same):
    assert (name_skeleton(one) == name_skeleton(other)) is same


def test_name_skeleton_of_nothing_is_empty():
    assert name_skeleton("") == ""


@pytest.mark.parametrize(
    ("domain", "provider"),
    [
        ("gmx.net", "gmx"),
        ("gmx.de", "gmx"),
        ("web.com", "web"),
        ("hotmail.de", "microsoft"),
        ("outlook.com", "microsoft"),
        ("live.co.uk", "microsoft"),
        ("me.com", "icloud"),
        ("googlemail.com", "gmail"),
        ("praxis-weber.de", "praxis-weber"),
        ("", ""),
    ],
)
def test_mail_provider(domain, provider):
    assert mail_provider(domain) == provider


def test_packed_records_unpack_equal():
    """The forked reader sends its records packed (one NUL-joined text per field)."""
    from merges.detection.normalize import match_fields_pack, match_fields_unpack

    records = [
        match_fields(
            customer_id=7,
            email="Ann.Lee+shop@googlemail.com",
            phone="0151 2345 6789",
            first_name="Bob",
            last_name="García López",
            address1="Flat 4, 12 Baker St",
            postcode="nw1 6xe",
            city="London",
            country_code="GB",
        ),
        match_fields(customer_id=8),  # every field empty
        match_fields(customer_id=2**40, first_name="Jörg Peter", last_name="Müller-Lüdenscheidt"),
    ]
    unpacked = match_fields_unpack(match_fields_pack(records))
    assert unpacked == records and unpacked[0].first_formal == records[0].first_formal != {"bob"}
    assert unpacked[0].last_name_tokens == ("garcia", "lopez")
    assert match_fields_unpack(match_fields_pack([])) == []
