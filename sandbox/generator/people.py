"""People and their addresses: the identity behind one or more customer profiles."""

import random
from dataclasses import dataclass, field, replace

from . import emails, phones
from .countries import (
    COUNTRIES,
    GB_INWARD_LETTERS,
    GB_OUTWARD,
    LANGUAGE_OF_LOCALE,
    NEIGHBOURS,
    City,
    Country,
)
from .draw import below, between, pick, weighted
from .names import NAMES
from .seen import SeenFilter

GERMAN_SPEAKING = frozenset({"DE", "AT", "CH"})
COMPANY_SUFFIX = {
    "DE": "GmbH",
    "AT": "GmbH",
    "CH": "AG",
    "FR": "SARL",
    "BE": "BV",
    "NL": "B.V.",
    "ES": "S.L.",
    "IT": "S.r.l.",
    "GB": "Ltd",
    "US": "LLC",
    "PL": "sp. z o.o.",
    "TR": "Ltd. Şti.",
}


@dataclass(slots=True)
class Address:
    first_name: str | None
    last_name: str | None
    address1: str
    address2: str
    city: str
    province_code: str | None
    country_code: str
    zip: str
    phone: str | None = None
    company: str | None = None


@dataclass(slots=True)
class Person:
    """One human; a customer profile is rendered from a (possibly corrupted) copy of this."""

    name_locale: str
    female: bool
    first: str
    last: str
    birth_year: int
    country: Country
    city: City
    language: str
    email: str | None = None
    phone: str | None = None  # customer-level phone, E.164, unique in the store
    addresses: list[Address] = field(default_factory=list)
    show_name: bool = True  # newsletter sign-ups often leave the name empty
    state_hint: str | None = None  # forces the account state (guest checkouts are DISABLED)
    order_scale: float = 1.0
    # Products this person keeps buying; shared by all their profiles (copy() keeps the list),
    # so order history is a weak signal that two profiles are one person.
    favourites: list[int] = field(default_factory=list)

    def copy(self) -> "Person":
        return replace(self, addresses=[replace(a) for a in self.addresses])


class PeopleFactory:
    def __init__(
        self,
        rng: random.Random,
        store_country: str,
        expected_customers: int,
        rare_names: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.rare_names = rare_names
        if store_country not in COUNTRIES:
            raise ValueError(f"country must be one of {sorted(COUNTRIES)}, not {store_country!r}")
        self.rng = rng
        self.store_country = COUNTRIES[store_country]
        self.neighbours = NEIGHBOURS[store_country]
        self.emails = SeenFilter(expected_customers * 2)
        self.mailboxes = SeenFilter(expected_customers * 2)
        self.phones = SeenFilter(expected_customers * 2)

    # names -----------------------------------------------------------------
    def _drawn(self, pool, share: float) -> str:
        """A name of the pool; with `share` (rare_names) a rarer one spliced from two of them."""
        if share and self.rng.random() < share:
            a, b = pick(self.rng, pool), pick(self.rng, pool)
            return a[: max(2, len(a) // 2 + int(self.rng.random() * 2))] + b[len(b) // 2 :].lower()
        return pick(self.rng, pool)

    def given_name(self, locale: str, female: bool, exclude: tuple[str, ...] = ()) -> str:
        females, males, _ = NAMES[locale]
        pool = females if female else males
        for _ in range(20):
            name = self._drawn(pool, self.rare_names[0])
            if name not in exclude:
                return name
        return name

    def surname(self, locale: str) -> str:
        return self._drawn(NAMES[locale][2], self.rare_names[1])

    def other_surname(self, locale: str, last: str) -> str:
        for _ in range(10):
            other = self.surname(locale)
            if other != last:
                return other
        return other

    # places ----------------------------------------------------------------
    def postcode(self, country: Country, city: City) -> str:
        rng = self.rng
        if country.code == "GB":
            outward = GB_OUTWARD[between(rng, city.postcode_low, city.postcode_high)]
            letters = pick(rng, GB_INWARD_LETTERS) + pick(rng, GB_INWARD_LETTERS)
            return f"{outward} {below(rng, 10)}{letters}"
        number = between(rng, city.postcode_low, city.postcode_high)
        if country.code == "NL":
            letters = pick(rng, "ABCDEGHJKLMNPRTVWXZ") + pick(rng, "ABCDEGHJKLMNPRTVWXZ")
            return f"{number} {letters}"
        if country.code == "PL":
            return f"{number // 1000:02d}-{number % 1000:03d}"
        width = 4 if country.code in ("AT", "CH", "BE") else 5
        return f"{number:0{width}d}"

    def address(
        self,
        person_first: str | None,
        person_last: str | None,
        country: Country,
        city: City | None = None,
    ) -> Address:
        rng = self.rng
        city = city or pick(rng, country.cities)
        street = pick(rng, country.streets)
        house = str(between(rng, 1, 180) if rng.random() < 0.8 else between(rng, 1, 40))
        if rng.random() < 0.06:
            house += pick(rng, "abc")
        address1 = f"{house} {street}" if country.number_first else f"{street} {house}"
        address2 = ""
        if rng.random() < 0.15:
            address2 = pick(rng, country.address2).format(
                n=between(rng, 1, 12), letter=pick(rng, "ABCD"), surname=person_last or ""
            )
        company = None
        if rng.random() < 0.04 and person_last:
            company = f"{person_last} {COMPANY_SUFFIX[country.code]}"
        return Address(
            person_first,
            person_last,
            address1,
            address2,
            city.name,
            city.province_code,
            country.code,
            self.postcode(country, city),
            None,
            company,
        )

    # contact ---------------------------------------------------------------
    def phone(self, country: Country, city: City | None, *, mobile: bool = True) -> str:
        for _ in range(20):
            number = phones.random_number(self.rng, country, city, mobile=mobile)
            if self.phones.claim(number):
                return number
        raise RuntimeError("phone number space exhausted")

    def claim_email(self, email: str, *, owner_email: str | None = None) -> bool:
        """Claim an address Shopify accepts (new, case-insensitively) that is also a new mailbox:
        gmail ignores dots and "+tags", so anna.lee@gmail.com and annalee@gmail.com are one
        mailbox, and two different people never share one. Only a variant of the owner's own
        address (`owner_email`, the person a duplicate profile belongs to) may reach their mailbox.
        """
        address = email.lower()
        box = emails.mailbox(address)
        if owner_email is not None and box == emails.mailbox(owner_email):
            return self.emails.claim(address)
        if address in self.emails or box in self.mailboxes:
            return False
        self.emails.add(address)
        self.mailboxes.add(box)
        return True

    def email(self, first: str, last: str, birth_year: int, country: Country) -> str:
        rng = self.rng
        german = country.code in GERMAN_SPEAKING
        for attempt in range(12):
            local = emails.local_part(rng, first, last, birth_year, german=german)
            if attempt >= 3:
                local += str(between(rng, 1, 10 ** min(attempt, 5) - 1))
            if rng.random() < 0.05:
                domain = emails.custom_domain(rng, last, country.tld, german=german)
            else:
                domain = weighted(rng, country.providers)
            if rng.random() < 0.04:
                local = emails.capitalised(local)
            address = f"{local}@{domain}"
            if self.claim_email(address):
                return address
        raise RuntimeError("could not find a free email address")

    # people ----------------------------------------------------------------
    def person(
        self,
        *,
        locale: str | None = None,
        country: Country | None = None,
        female: bool | None = None,
        first: str | None = None,
        last: str | None = None,
        birth_year: int | None = None,
        city: City | None = None,
        exclude_first: tuple[str, ...] = (),
    ) -> Person:
        rng = self.rng
        country = country or COUNTRIES[weighted(rng, self.neighbours)]
        locale = locale or weighted(rng, country.name_locales)
        female = rng.random() < 0.56 if female is None else female
        first = first or self.given_name(locale, female, exclude_first)
        if not last:
            last = self.surname(locale)
            if locale == "es" and rng.random() < 0.6:  # Spanish: father's and mother's surname
                last = f"{last} {self.other_surname(locale, last)}"
            elif locale in ("de", "fr", "pl", "nl") and female and rng.random() < 0.06:
                last = f"{last}-{self.other_surname(locale, last)}"  # double name after marriage
        birth_year = birth_year or between(rng, 1945, 2006)
        city = city or pick(rng, country.cities)
        roll = rng.random()
        if roll < 0.72:
            language = self.store_country.language
        elif roll < 0.94:
            language = LANGUAGE_OF_LOCALE[locale]
        else:
            language = "en"
        person = Person(locale, female, first, last, birth_year, country, city, language)
        if rng.random() < 0.97:
            person.email = self.email(first, last, birth_year, country)
        if rng.random() < 0.55 or person.email is None:
            person.phone = self.phone(country, city, mobile=True)
        if rng.random() < 0.88:
            home = self.address(first, last, country, city)
            if rng.random() < 0.45:
                home.phone = person.phone or self.phone(country, city, mobile=rng.random() < 0.7)
            elif rng.random() < 0.02:
                home.phone = pick(rng, ("0", "n/a", "keine", "-", "000"))
            person.addresses.append(home)
            extra = rng.random()
            if extra < 0.15:
                person.addresses.append(self.address(first, last, country))
            if extra < 0.03:
                person.addresses.append(
                    self.address(first, last, COUNTRIES[weighted(rng, self.neighbours)])
                )
            if rng.random() < 0.05:  # a gift shipped to someone else
                other = self.address(
                    self.given_name(locale, rng.random() < 0.5), self.surname(locale), country
                )
                person.addresses.append(other)
        if person.email and rng.random() < 0.05:
            person.show_name = False
        return person
