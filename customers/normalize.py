"""Matching keys derived from a customer's raw fields, stored on the row and indexed per shop.

Duplicate detection and segments compare these keys, never the raw values:
- email: trimmed, internal spaces dropped (Shopify strips them), lowercased, a `+tag` folded away,
  and for Gmail the dots of the local part removed and googlemail.com folded into gmail.com;
- phone: E.164 via `phonenumbers`, national numbers read in the address's country, else the shop's;
- names: casefolded, accents and punctuation removed, so "Müller-Lüdenscheidt" == "mullerludenscheidt";
- postcode: uppercase letters and digits only (US ZIP+4 reduced to the five-digit ZIP).
Every function returns "" when there is nothing usable, so an empty key never matches anything.
"""

import re
import unicodedata
from functools import cache, lru_cache

import phonenumbers

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
# Letters NFKD does not decompose into a base letter + accent.
_TRANSLITERATE = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",  # dotless i
    }
)


def email_normalize(raw: str | None) -> str:
    if not raw:
        return ""
    email = raw.lower()
    if " " in email or not email.isprintable():  # every whitespace character is one of these
        email = "".join(email.split())  # str.split() splits on what `\s` matches
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        return ""
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    if not local:
        return ""
    return f"{local}@{domain}"


def phone_normalize(raw: str | None, *, region: str | None = None) -> str:
    """E.164 form of `raw`, or "" when it is not a valid number (in `region` if not international)."""
    if not raw or not raw.strip():
        return ""
    if raw[0] == "+" and _PLUS_DIGITS.fullmatch(raw):
        # International numbers do not depend on the region: one cache entry per number.
        return _phone_international(raw)
    return _phone_parsed(raw, (region or "").upper() or None)


# Most stored numbers are already "+<digits>"; for those, phonenumbers' parse (~40 µs) reduces to
# splitting off the country code, so a full sync does that directly and asks phonenumbers only
# whether the national number is valid. Anything unusual takes phonenumbers' own path.
# Equivalence with `_phone_parsed` is tested (customers/tests/test_normalize_fast.py).
_PLUS_DIGITS = re.compile(r"\+[1-9][0-9]{2,16}")
_TYPE_DESCS = (  # every type _number_type_helper tries; the likeliest first (any match = valid)
    "mobile",
    "fixed_line",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


@lru_cache(maxsize=1 << 16)
def _phone_international(raw: str) -> str:
    digits = raw[1:]
    for size in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:size]))
        if regions is not None:
            break
    else:
        return _phone_parsed(raw, None)
    national = digits[size:]
    rules = _region_rules(regions[0]) if len(regions) == 1 else None
    if (
        rules is None  # shared or non-geographic calling code: needs the region lookup
        or not 2 <= len(national) <= 17
        or national[0] == "0"  # Italian leading zero
        or (rules[0] is not None and rules[0].match(national))  # a prefix phonenumbers strips
    ):
        return _phone_parsed(raw, None)
    length = len(national)
    general, types = rules[1], rules[2]
    if _desc_matches(general, national, length) and any(
        _desc_matches(desc, national, length) for desc in types
    ):
        return f"+{digits}"
    return ""


def _desc_matches(desc, national: str, length: int) -> bool:
    """phonenumberutil._is_number_matching_desc with the pattern compiled once."""
    if desc is None:
        return False
    lengths, pattern = desc
    if lengths and length not in lengths:
        return False
    return pattern is not None and pattern.fullmatch(national) is not None


@cache
def _region_rules(region: str):
    """(national prefix pattern, general desc, type descs) of a region, compiled once: the
    phonenumbers calls `_phone_international` used to make compiled them through `re`'s cache
    for every number (~2/3 of its time)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None

    def desc(number_desc):
        if number_desc is None:
            return None
        pattern = number_desc.national_number_pattern
        return (
            frozenset(number_desc.possible_length or ()),
            re.compile(pattern) if pattern else None,
        )

    prefix = metadata.national_prefix_for_parsing
    return (
        re.compile(prefix) if prefix else None,
        desc(metadata.general_desc),
        tuple(desc(getattr(metadata, name)) for name in _TYPE_DESCS),
    )


@lru_cache(maxsize=1 << 14)
def _phone_parsed(raw: str, region: str | None) -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=1 << 16)  # names repeat a lot across a shop's customers
def name_key(raw: str | None) -> str:
    if not raw:
        return ""
    text = unicodedata.normalize("NFKD", raw.translate(_TRANSLITERATE)).casefold()
    # Keep letters and digits of any script; drop accents (combining marks), spaces, punctuation.
    return "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch))


def postcode_normalize(raw: str | None, *, country_code: str | None = None) -> str:
    if not raw:
        return ""
    return _postcode(raw, (country_code or "").upper() == "US")


@lru_cache(maxsize=1 << 16)
def _postcode(raw: str, us: bool) -> str:
    code = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", raw).upper())
    if us and len(code) == 9 and code.isdigit():
        return code[:5]
    return code


def tags_normalize(tags: list[str] | None) -> str:
    """Tags as one searchable text: ",vip,newsletter," (lowercase, comma-delimited, sorted).

    Shopify tags never contain commas (a comma separates tags), so `LIKE '%,vip,%'` finds exactly
    the customers tagged `vip` on PostgreSQL and SQLite alike.
    """
    cleaned = sorted({tag.strip().lower() for tag in tags or () if tag and tag.strip()})
    return f",{','.join(cleaned)}," if cleaned else ""


def tag_pattern(tag: str) -> str:
    """The substring that `tags_normalize` output contains exactly when `tag` is among the tags."""
    return f",{tag.strip().lower()},"
