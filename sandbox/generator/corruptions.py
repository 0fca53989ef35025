"""How one person ends up with a second customer profile, kind by kind.

Every function takes the original person and a copy, changes the copy the way it happens in real
stores, and returns False when the kind cannot apply to this person (no accents to drop, no
nickname known, ...). `make_duplicate` then applies Shopify's uniqueness rules: a profile can never
repeat another's email or customer phone, so an unchanged email is dropped or replaced by another
mailbox, and an unchanged phone moves to the shipping address, as Shopify's checkout does.
"""

import random
import re
from dataclasses import replace

from . import emails, phones, retyping
from .draw import Weighted, weighted
from .names import FAMILY_NAME_FIRST_LOCALES, NICKNAMES, TRANSLITERATION_VARIANTS
from .people import GERMAN_SPEAKING, PeopleFactory, Person

EMAIL_TYPO = "email_typo"
EMAIL_DOMAIN = "email_domain"
GMAIL_ALIAS = "gmail_alias"
PHONE_FORMAT = "phone_format"
NICKNAME = "nickname"
NAME_SWAP = "name_swap"
ACCENTS_DROPPED = "accents_dropped"
TRANSLITERATION = "transliteration"
COMPOUND_SURNAME = "compound_surname"
MOVED_ADDRESS = "moved_address"
GUEST_CHECKOUT = "guest_checkout"

SINGLE_KINDS = (
    EMAIL_TYPO,
    EMAIL_DOMAIN,
    GMAIL_ALIAS,
    PHONE_FORMAT,
    NICKNAME,
    NAME_SWAP,
    ACCENTS_DROPPED,
    TRANSLITERATION,
    COMPOUND_SURNAME,
    MOVED_ADDRESS,
    GUEST_CHECKOUT,
)
COMBINATION = "combination"  # recorded as "<kind>+<kind>"
# Weights among the kinds that can apply to the person (transliteration only to the few whose
# names have other Latin spellings, where it is the most common variation).
KIND_WEIGHTS = Weighted(
    (
        (EMAIL_TYPO, 13),
        (EMAIL_DOMAIN, 12),
        (GMAIL_ALIAS, 9),
        (PHONE_FORMAT, 10),
        (NICKNAME, 9),
        (NAME_SWAP, 6),
        (ACCENTS_DROPPED, 8),
        (TRANSLITERATION, 30),
        (COMPOUND_SURNAME, 20),
        (MOVED_ADDRESS, 10),
        (GUEST_CHECKOUT, 10),
        (COMBINATION, 10),
    )
)
# A combination takes two kinds that touch different fields.
KIND_FIELD = {
    EMAIL_TYPO: "email",
    EMAIL_DOMAIN: "email",
    GMAIL_ALIAS: "email",
    PHONE_FORMAT: "phone",
    NICKNAME: "name",
    NAME_SWAP: "name",
    ACCENTS_DROPPED: "name",
    TRANSLITERATION: "name",
    COMPOUND_SURNAME: "name",
    MOVED_ADDRESS: "address",
}
REVERSE_NICKNAMES: dict[str, tuple[str, ...]] = {}
for _full, _shorts in NICKNAMES.items():
    for _short in _shorts:
        REVERSE_NICKNAMES[_short] = (*REVERSE_NICKNAMES.get(_short, ()), _full)


def _claim_email(
    factory: PeopleFactory, person: Person, dup: Person, local: str | None, domain: str
) -> bool:
    if not local:
        return False
    address = f"{local}@{domain}"
    if not factory.claim_email(address, owner_email=person.email):
        return False
    dup.email = address
    return True


def email_typo(rng, factory, person, dup) -> bool:
    if not person.email:
        return False
    local, domain = person.email.split("@")
    return _claim_email(factory, person, dup, emails.typo_local(rng, local), domain)


def email_domain(rng, factory, person, dup) -> bool:
    if not person.email:
        return False
    local, domain = person.email.split("@")
    return _claim_email(
        factory, person, dup, local, emails.domain_variant(rng, domain, person.country.providers)
    )


def gmail_alias(rng, factory, person, dup) -> bool:
    if not person.email:
        return False
    local, domain = person.email.split("@")
    return _claim_email(factory, person, dup, emails.alias_local(rng, local, domain), domain)


def _known_phone(person: Person) -> str | None:
    if person.phone:
        return person.phone
    for address in person.addresses:
        if address.phone and address.phone.startswith("+"):
            return address.phone
    return None


def phone_format(rng, factory, person, dup) -> bool:
    """The same number, but typed so that it no longer matches after Shopify's normalisation."""
    number = _known_phone(person)
    if number is None:
        return False
    pick = rng.random()
    if pick < 0.35 and dup.addresses:
        dup.phone = None  # refused on the customer ("already taken"), kept on the address
        dup.addresses[0].phone = number
        return True
    variant = phones.wrong_region_variant(number, person.country.code, rng) if pick < 0.75 else None
    variant = variant or phones.digit_typo_variant(number, rng)
    if phones.is_valid(variant) and factory.phones.claim(variant):
        dup.phone = variant
    elif dup.addresses:
        dup.phone = None
        dup.addresses[0].phone = variant
    else:
        return False
    return True


def nickname(rng, factory, person, dup) -> bool:
    if person.first in NICKNAMES:
        dup.first = rng.choice(NICKNAMES[person.first])
    elif person.first in REVERSE_NICKNAMES:
        dup.first = rng.choice(REVERSE_NICKNAMES[person.first])
    else:
        return False
    _rename_addresses(person, dup)
    return True


def name_swap(rng, factory, person, dup) -> bool:
    if person.first == person.last:
        return False
    dup.first, dup.last = person.last, person.first
    _rename_addresses(person, dup)
    return True


def accents_dropped(rng, factory, person, dup) -> bool:
    if person.first.isascii() and person.last.isascii():
        return False
    german = person.country.code in GERMAN_SPEAKING and rng.random() < 0.6
    dup.first = emails.ascii_fold(person.first, german=german)
    dup.last = emails.ascii_fold(person.last, german=german)
    _rename_addresses(person, dup)
    return True


def transliteration(rng, factory, person, dup) -> bool:
    changed = False
    if person.first in TRANSLITERATION_VARIANTS:
        dup.first = rng.choice(TRANSLITERATION_VARIANTS[person.first])
        changed = True
    if person.last in TRANSLITERATION_VARIANTS and (not changed or rng.random() < 0.4):
        dup.last = rng.choice(TRANSLITERATION_VARIANTS[person.last])
        changed = True
    if not changed and person.name_locale in FAMILY_NAME_FIRST_LOCALES:
        dup.first, dup.last = person.last, person.first  # family name entered first
        changed = True
    if changed:
        _rename_addresses(person, dup)
    return changed


def compound_surname(rng, factory, person, dup) -> bool:
    """ "García López" -> "García", "Müller-Schmidt" -> "Müller Schmidt", "van der Meer" -> "Vandermeer"."""
    last = person.last
    parts = [part for part in re.split(r"[ \-']", last) if part]
    if len(parts) < 2:
        return False
    particle = parts[0].lower() in (
        "van",
        "de",
        "der",
        "den",
        "von",
        "da",
        "di",
        "d",
        "le",
        "la",
        "del",
    )
    options = []
    if particle:
        options += [
            parts[-1],
            "".join(parts).capitalize(),
            last[0].upper() + last[1:],
            last.lower(),
        ]
    else:
        options += [parts[0], parts[-1], " ".join(parts), "-".join(parts)]
    options = [option for option in options if option != last]
    if not options:
        return False
    dup.last = rng.choice(options)
    _rename_addresses(person, dup)
    return True


def moved_address(rng, factory, person, dup) -> bool:
    """New home, same person; still reachable through a related email or the old phone."""
    if not person.addresses:
        return False
    city = person.city if rng.random() < 0.5 else None
    carried_phone = dup.addresses[0].phone if dup.addresses else None
    dup.addresses = [factory.address(dup.first, dup.last, person.country, city)]
    dup.addresses[0].phone = carried_phone  # the phone moves house too
    if dup.email != person.email or dup.phone != person.phone:
        return True  # a combined email or phone kind already links the profiles
    number = _known_phone(person)
    if number and rng.random() < 0.5:
        dup.phone = None
        dup.addresses[0].phone = number
        return True
    if person.email:
        linked = gmail_alias(rng, factory, person, dup) or email_domain(rng, factory, person, dup)
        if linked:
            return True
    if number:
        dup.phone = None
        dup.addresses[0].phone = number
        return True
    return False


def guest_checkout(rng, factory, person, dup) -> bool:
    """Checked out as a guest without an email: name and shipping address (and its phone) only."""
    if not person.addresses:
        return False
    home = person.addresses[0]
    dup.addresses = [replace(home)]
    dup.email = None
    dup.phone = None
    dup.addresses[0].phone = _known_phone(person) if rng.random() < 0.75 else home.phone
    dup.addresses[0].first_name, dup.addresses[0].last_name = dup.first, dup.last
    if rng.random() < 0.5:
        _retype(rng, dup.addresses[0])
    if rng.random() < 0.15:  # typed in lower case on a phone keyboard
        dup.first, dup.last = dup.first.lower(), dup.last.lower()
        dup.addresses[0].first_name, dup.addresses[0].last_name = dup.first, dup.last
    dup.state_hint = "DISABLED"
    dup.order_scale = 0.0  # exactly one order, see records.order_count
    dup.show_name = True
    return True


def _retype(rng: random.Random, address) -> None:
    address.address1 = retyping.retype_street(rng, address.address1)
    address.zip = retyping.retype_zip(rng, address.zip)
    address.city = retyping.retype_city(rng, address.city)


def _rename_addresses(person: Person, dup: Person) -> None:
    for address in dup.addresses:
        if address.first_name == person.first and address.last_name == person.last:
            address.first_name, address.last_name = dup.first, dup.last


CORRUPT = {
    EMAIL_TYPO: email_typo,
    EMAIL_DOMAIN: email_domain,
    GMAIL_ALIAS: gmail_alias,
    PHONE_FORMAT: phone_format,
    NICKNAME: nickname,
    NAME_SWAP: name_swap,
    ACCENTS_DROPPED: accents_dropped,
    TRANSLITERATION: transliteration,
    COMPOUND_SURNAME: compound_surname,
    MOVED_ADDRESS: moved_address,
    GUEST_CHECKOUT: guest_checkout,
}


def _apply(rng, factory, person, dup, kinds: list[str]) -> bool:
    return all(CORRUPT[kind](rng, factory, person, dup) for kind in kinds)


def applicable(person: Person) -> set[str]:
    """The kinds that can happen to this person (no accents, no accent-dropping)."""
    kinds = {NAME_SWAP}
    if person.email:
        kinds |= {EMAIL_TYPO, EMAIL_DOMAIN}
        domain = person.email.split("@")[1]
        if domain in emails.PLUS_ADDRESSING:
            kinds.add(GMAIL_ALIAS)
    if _known_phone(person):
        kinds.add(PHONE_FORMAT)
    if person.first in NICKNAMES or person.first in REVERSE_NICKNAMES:
        kinds.add(NICKNAME)
    if not (person.first.isascii() and person.last.isascii()):
        kinds.add(ACCENTS_DROPPED)
    if (
        person.first in TRANSLITERATION_VARIANTS
        or person.last in TRANSLITERATION_VARIANTS
        or person.name_locale in FAMILY_NAME_FIRST_LOCALES
    ):
        kinds.add(TRANSLITERATION)
    if any(mark in person.last for mark in " -'"):
        kinds.add(COMPOUND_SURNAME)
    if person.addresses:
        kinds |= {MOVED_ADDRESS, GUEST_CHECKOUT}
    return kinds


def _kind_plan(rng: random.Random, person: Person) -> list[list[str]]:
    """Kinds to try in order: one drawn among those that can apply, then the rest as fallbacks."""
    possible = applicable(person)
    table = tuple((k, w) for k, w in KIND_WEIGHTS if k in possible or k == COMBINATION)
    drawn = weighted(rng, table)
    plans: list[list[str]] = []
    if drawn == COMBINATION:
        fields = tuple((k, w) for k, w in table if k in KIND_FIELD)
        first = weighted(rng, fields)
        others = tuple((k, w) for k, w in fields if KIND_FIELD[k] != KIND_FIELD[first])
        if others:
            pair = [first, weighted(rng, others)]
            plans.append(sorted(pair, key=SINGLE_KINDS.index))  # names change before addresses
    else:
        plans.append([drawn])
    fallback = sorted(possible)
    rng.shuffle(fallback)
    plans.extend([kind] for kind in fallback)
    return plans


def make_duplicate(
    rng: random.Random, factory: PeopleFactory, person: Person
) -> tuple[Person, str]:
    """Another profile of `person` and its corruption kind ("email_typo", "nickname+email_domain", ...)."""
    for kinds in _kind_plan(rng, person):
        dup = person.copy()
        dup.show_name = True
        if len(dup.addresses) > 1 and rng.random() < 0.8:
            dup.addresses = dup.addresses[:1]  # a new checkout knows only the shipping address
        if _apply(rng, factory, person, dup, kinds):
            _enforce_uniqueness(rng, factory, person, dup)
            _ensure_link(rng, factory, person, dup)
            if (
                MOVED_ADDRESS not in kinds
                and GUEST_CHECKOUT not in kinds
                and dup.addresses
                and rng.random() < 0.2
            ):
                _retype(rng, dup.addresses[0])
            return dup, "+".join(kinds)
    raise AssertionError("name_swap always applies")


def _enforce_uniqueness(
    rng: random.Random, factory: PeopleFactory, person: Person, dup: Person
) -> None:
    if (
        dup.email is not None
        and person.email is not None
        and dup.email.lower() == person.email.lower()
    ):
        # Same mailbox cannot be used twice: the profile came from a checkout without it or
        # with the person's other mailbox.
        dup.email = (
            None
            if rng.random() < 0.55
            else factory.email(dup.first, dup.last, dup.birth_year, dup.country)
        )
    if dup.phone is not None and dup.phone == person.phone:
        dup.phone = None
        if dup.addresses and rng.random() < 0.6:
            dup.addresses[0].phone = person.phone
    if dup.email is None and dup.phone is None:
        dup.show_name = True


def _ensure_link(rng: random.Random, factory: PeopleFactory, person: Person, dup: Person) -> None:
    """Every duplicate keeps at least one real tie to the person: a related email, a phone or the
    home address. A profile sharing nothing but a name would be undetectable, and a ground truth
    that demands it would only measure luck."""
    if dup.email and person.email and dup.email.lower() != person.email.lower():
        local, domain = dup.email.lower().split("@")
        orig_local, orig_domain = person.email.lower().split("@")
        if domain == orig_domain or _mailbox_key(local) == _mailbox_key(orig_local):
            return
    person_phones = {p for p in (person.phone, *(a.phone for a in person.addresses)) if p}
    dup_phones = [p for p in (dup.phone, *(a.phone for a in dup.addresses)) if p]
    if any(_phones_tied(p, q) for p in dup_phones for q in person_phones):
        return
    homes = {(a.address1, a.zip) for a in person.addresses}
    if any((a.address1, a.zip) in homes for a in dup.addresses):
        return
    if person.addresses:
        shipping = replace(person.addresses[0], first_name=dup.first, last_name=dup.last)
        dup.addresses = [shipping, *dup.addresses]
    elif person_phones:
        shipping = factory.address(dup.first, dup.last, person.country, person.city)
        shipping.phone = sorted(person_phones)[0]
        dup.addresses = [shipping, *dup.addresses]
    else:
        for variant in (email_domain, email_typo):
            if variant(rng, factory, person, dup):
                return


def _phones_tied(one: str, other: str) -> bool:
    """Same number, same national number under another country code, or one slip of a digit."""
    if one == other or (len(one) > 8 and one[-8:] == other[-8:]):
        return True
    return len(one) == len(other) and sum(a != b for a, b in zip(one, other, strict=True)) <= 2


def _mailbox_key(local: str) -> str:
    return local.split("+", 1)[0].replace(".", "")
