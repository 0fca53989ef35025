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

import phonenumbers

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_WHITESPACE = re.compile(r"\s+")
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
    email = _WHITESPACE.sub("", raw).lower()
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
    region = (region or "").upper() or None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def name_key(raw: str | None) -> str:
    if not raw:
        return ""
    text = unicodedata.normalize("NFKD", raw.translate(_TRANSLITERATE)).casefold()
    # Keep letters and digits of any script; drop accents (combining marks), spaces, punctuation.
    return "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch))


def postcode_normalize(raw: str | None, *, country_code: str | None = None) -> str:
    if not raw:
        return ""
    code = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", raw).upper())
    if (country_code or "").upper() == "US" and len(code) == 9 and code.isdigit():
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
