import pytest

from customers.normalize import (
    email_normalize,
    name_key,
    phone_normalize,
    postcode_normalize,
    tag_pattern,
    tags_normalize,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Anna.Mueller@Gmail.com", "annamueller@gmail.com"),
        ("anna.mueller+shop@googlemail.com", "annamueller@gmail.com"),
        ("  a.b.c@gmail.com ", "abc@gmail.com"),
        ("John.Doe+news@Example.COM", "john.doe@example.com"),
        ("jo hn@example.com", "john@example.com"),
        ("Ünal.Öz@Beispiel.de", "ünal.öz@beispiel.de"),
        ("user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),
        ("+onlytag@example.com", ""),
        ("not-an-email", ""),
        ("@example.com", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_email_normalize(raw, expected):
    assert email_normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+49 151 12345678", None, "+4915112345678"),
        ("0151 12345678", "DE", "+4915112345678"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "us", "+14155552671"),
        ("+1 415 555 2671", "DE", "+14155552671"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("090-1234-5678", "JP", "+819012345678"),
        ("0412 345 678", "AU", "+61412345678"),
        ("11 91234-5678", "BR", "+5511912345678"),
        ("98765 43210", "IN", "+919876543210"),
        ("0151 12345678", None, ""),
        ("12", "DE", ""),
        ("call me", "US", ""),
        ("", "US", ""),
        (None, "US", ""),
    ],
)
def test_phone_normalize(raw, region, expected):
    assert phone_normalize(raw, region=region) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Müller", "muller"),
        ("MÜLLER-Lüdenscheidt", "mullerludenscheidt"),
        ("O'Brien", "obrien"),
        ("José María", "josemaria"),
        ("Søren", "soren"),
        ("Łukasz", "lukasz"),
        ("Straße", "strasse"),
        ("Dvořák", "dvorak"),
        ("Ægir", "aegir"),
        ("Иван", "иван"),
        ("山田", "山田"),
        ("  ", ""),
        (None, ""),
    ],
)
def test_name_key(raw, expected):
    assert name_key(raw) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("10115", "DE", "10115"),
        ("sw1a 1aa", "GB", "SW1A1AA"),
        ("1234 ab", "NL", "1234AB"),
        ("k1a 0b1", "CA", "K1A0B1"),
        ("94105-1234", "US", "94105"),
        ("941051234", "US", "94105"),
        ("01310-100", "BR", "01310100"),
        ("100-0001", "JP", "1000001"),
        ("00-950", "PL", "00950"),
        ("\uff11\uff10\uff10-\uff10\uff10\uff10\uff11", "JP", "1000001"),  # full-width digits
        ("", "DE", ""),
        (None, None, ""),
    ],
)
def test_postcode_normalize(raw, country, expected):
    assert postcode_normalize(raw, country_code=country) == expected


def test_tags_normalize_is_sorted_lowercase_and_delimited():
    text = tags_normalize(["VIP", " newsletter ", "vip", ""])
    assert text == ",newsletter,vip,"
    assert tag_pattern("Vip") in text
    assert tag_pattern("news") not in text
    assert tags_normalize([]) == ""
