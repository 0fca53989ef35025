"""The cached and fast paths of customers.normalize equal the plain reference implementations.

`phone_normalize` skips phonenumbers' parser for "+<digits>" input and memoises results;
`name_key` and `postcode_normalize` are memoised. These tests hold them to the straightforward
definitions, table-driven for known tricky inputs and with hypothesis for everything else.
"""

import re
import unicodedata

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customers.normalize import (
    _NOT_ALNUM,
    _TRANSLITERATE,
    email_normalize,
    name_key,
    phone_normalize,
    postcode_normalize,
)


def phone_reference(raw, region):
    if not raw or not raw.strip():
        return ""
    try:
        number = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def name_reference(raw):
    if not raw:
        return ""
    text = unicodedata.normalize("NFKD", raw.translate(_TRANSLITERATE)).casefold()
    return "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch))


def postcode_reference(raw, country):
    if not raw:
        return ""
    code = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", raw).upper())
    if (country or "").upper() == "US" and len(code) == 9 and code.isdigit():
        return code[:5]
    return code


@pytest.mark.parametrize(
    "raw",
    [
        "+491750333291",  # German mobile
        "+4901751234567",  # national prefix after the country code (phonenumbers strips it)
        "+493048540441",  # Berlin landline
        "+390612345678",  # Italian leading zero
        "+393123456789",
        "+12125550123",  # +1 is shared by many regions
        "+79161234567",  # +7 likewise
        "+441632960000",
        "+80012345678",  # non-geographic
        "+999123456",  # no such country code
        "+2901234",  # Saint Helena, short numbers
        "+5491123456789",  # Argentina: complex national prefix rules
        "+52155123456789",  # Mexico
        "+123",
        "+49",
        "+4915112345678901234",  # too long
    ],
)
@pytest.mark.parametrize("region", ["DE", "", "US", "it"])
def test_phone_fast_path_equals_phonenumbers(raw, region):
    assert phone_normalize(raw, region=region) == phone_reference(raw, region)


country_codes = st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE))


@settings(max_examples=600, deadline=None)
@given(
    code=country_codes,
    national=st.text(alphabet="0123456789", min_size=0, max_size=16),
    region=st.sampled_from(["DE", "US", "GB", "IT", "", "AT"]),
)
def test_phone_fast_path_equals_phonenumbers_for_any_plus_number(code, national, region):
    raw = f"+{code}{national}"
    assert phone_normalize(raw, region=region) == phone_reference(raw, region)


@settings(max_examples=300, deadline=None)
@given(raw=st.text(alphabet="+0123456789 ()-/.x", max_size=20), region=st.sampled_from(["DE", ""]))
def test_phone_normalize_equals_phonenumbers_for_any_text(raw, region):
    assert phone_normalize(raw, region=region) == phone_reference(raw, region)


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=30))
def test_cached_name_key_equals_reference(raw):
    assert name_key(raw) == name_reference(raw)
    assert name_key(raw) == name_reference(raw)  # a second call answers from the cache


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=12), country=st.sampled_from(["US", "us", "DE", "", None]))
def test_cached_postcode_equals_reference(raw, country):
    assert postcode_normalize(raw, country_code=country) == postcode_reference(raw, country)


def email_reference(raw):
    if not raw:
        return ""
    email = re.sub(r"\s+", "", raw).lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        return ""
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}" if local else ""


@pytest.mark.parametrize(
    "raw",
    ["A.B+x@GoogleMail.com", " a b@c.de ", "a\u00a0b@c.de", "a\u2003b@c.de", "a\x1cb@x.io",
     "a\u200bb@x.io", "Ünï@Straße.de", "@x.de", "a@", "+tag@gmail.com", "İ@x.tr"],
)  # fmt: skip
def test_email_normalize_equals_the_regex_reference_on_tricky_input(raw):
    assert email_normalize(raw) == email_reference(raw)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=20), st.sampled_from(["@gmail.com", "@x.de", "@", ""]))
def test_email_normalize_equals_the_regex_reference(local, domain):
    raw = local + domain
    assert email_normalize(raw) == email_reference(raw)
