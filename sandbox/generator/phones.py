"""Valid phone numbers per country, as Shopify stores them (E.164), and the ways people type them.

Shopify normalises every customer and address phone to E.164 with the address country as the
region (recorded: "+1 (613) 450-4538" -> "+16134504538", "450-4538" -> "+14504538"), so national vs
international formatting, spaces and dashes vanish on the way in. What survives normalisation, and
is generated here, is: a national number typed on an address in another country (parsed with the
wrong region), a digit typed wrong, and a number that ends up on the address instead of the
customer because Shopify refuses the same phone on two customers.
"""

import random

import phonenumbers

from .countries import COUNTRIES, City, Country
from .draw import below, pick

US_EXCHANGE_FIRST = "23456789"


def random_number(rng: random.Random, country: Country, city: City | None, *, mobile: bool) -> str:
    """An E.164 number that `phonenumbers` accepts as valid for `country`."""
    plan = country.phone
    if country.code == "US":
        area = pick(rng, city.area_codes if city and city.area_codes else ("212", "415", "312"))
        while True:
            exchange = pick(rng, US_EXCHANGE_FIRST) + f"{below(rng, 100):02d}"
            if exchange[1:] != "11" and exchange != "555":
                break
        return f"+1{area}{exchange}{below(rng, 10000):04d}"
    landline = not mobile and bool(plan.landline)
    prefix, digits = pick(rng, plan.landline if landline else plan.mobile)
    if landline:  # subscriber numbers in geographic ranges start with 2-5
        rest = pick(rng, "2345") + f"{below(rng, 10 ** (digits - 1)):0{digits - 1}d}"
    else:
        rest = f"{below(rng, 10**digits):0{digits}d}"
    return f"+{plan.calling_code}{prefix}{rest}"


def national_format(e164: str) -> str:
    """How a customer writes the number at home: "0151 12345678", "06 12 34 56 78"."""
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
    )


def international_format(e164: str) -> str:
    """ "+49 151 12345678", as printed on business cards."""
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def shopify_normalise(typed: str, region: str) -> str:
    """What Shopify stores for a phone typed on an address in `region` (verbatim if unparseable)."""
    try:
        number = phonenumbers.parse(typed, region)
    except phonenumbers.NumberParseException:
        return typed
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_valid(e164: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return False


def wrong_region_variant(e164: str, home: str, rng: random.Random) -> str | None:
    """The number typed in national format on an address in a neighbouring country."""
    regions = [
        code
        for code in ("DE", "AT", "CH", "FR", "BE", "NL", "IT", "ES", "PL", "GB")
        if code != home
    ]
    region = rng.choice(regions)
    variant = shopify_normalise(national_format(e164), region)
    return variant if variant != e164 and variant.startswith("+") else None


def digit_typo_variant(e164: str, rng: random.Random) -> str:
    """One digit of the subscriber part typed wrong or two neighbours swapped."""
    digits = list(e164)
    position = rng.randrange(len(digits) - 6, len(digits))
    if (
        rng.random() < 0.5
        and position + 1 < len(digits)
        and digits[position] != digits[position + 1]
    ):
        digits[position], digits[position + 1] = digits[position + 1], digits[position]
    else:
        digits[position] = rng.choice([d for d in "0123456789" if d != digits[position]])
    return "".join(digits)


__all__ = [
    "COUNTRIES",
    "digit_typo_variant",
    "international_format",
    "is_valid",
    "national_format",
    "random_number",
    "shopify_normalise",
    "wrong_region_variant",
]
