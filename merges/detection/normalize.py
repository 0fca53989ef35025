"""Per-field normalisation for matching, on top of the mirror's keys (customers.normalize).

`match_fields(...)` turns one customer's raw values into a `MatchFields` record; blocking keys and
comparison levels are computed from it only, so both always agree on what "the same" means.
- email: the mirror's normal form (gmail dots and googlemail folded, +tags dropped), then the domain
  mapped to the provider it is a typo of (gmial.com -> gmail.com, hotmail.con -> hotmail.com);
- phone: E.164 in the address's (else the store's) country, plus the last 9 digits of whatever was
  typed, so a number without its country code still meets its international form;
- names: folded for case, accents and punctuation, split into tokens (compound surnames), a German
  fold (ü == ue) and the formal names a nickname stands for;
- address: the house number extracted to be compared exactly (12 vs 21 Baker Street are different
  houses), the unit set aside, street words with abbreviations expanded; postcode normalised.
"""

import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
from rapidfuzz.distance import OSA

from customers.normalize import email_normalize, name_key, phone_normalize, postcode_normalize

from .nicknames import formal_names

# Mail providers customers type; a domain one edit away from one of them is taken as its typo.
PROVIDER_DOMAINS = frozenset(
    [
        "gmail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.it",
        "hotmail.es",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.it",
        "yahoo.es",
        "outlook.com",
        "outlook.de",
        "outlook.fr",
        "live.com",
        "live.co.uk",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "web.de",
        "gmx.de",
        "gmx.net",
        "gmx.at",
        "gmx.ch",
        "t-online.de",
        "freenet.de",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "wanadoo.fr",
        "libero.it",
        "virgilio.it",
        "alice.it",
        "tiscali.it",
        "yandex.ru",
        "mail.ru",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "interia.pl",
        "seznam.cz",
        "ziggo.nl",
        "kpnmail.nl",
        "telenet.be",
        "skynet.be",
        "bluewin.ch",
        "protonmail.com",
        "proton.me",
        "btinternet.com",
        "sky.com",
        "telefonica.net",
        "terra.es",
        "comcast.net",
        "verizon.net",
        "att.net",
    ]
)
# Providers with no national variants: any other top-level domain after their name is a slip.
_GLOBAL_PROVIDERS = {
    "gmail": "gmail.com",
    "googlemail": "gmail.com",
    "icloud": "icloud.com",
    "outlook": "outlook.com",
    "hotmail": "hotmail.com",
    "yahoo": "yahoo.com",
}
_COM_SLIPS = frozenset({"co", "con", "cm", "om", "cpm", "comm", "vom", "xom", "cim", "coom"})
_PROVIDERS_BY_LENGTH: dict[int, list[str]] = {}
for _domain in PROVIDER_DOMAINS:
    _PROVIDERS_BY_LENGTH.setdefault(len(_domain), []).append(_domain)

# Email locals that name a role or a placeholder, not a person: never a blocking key on their own.
GENERIC_LOCALS = frozenset(
    [
        "info",
        "admin",
        "test",
        "noreply",
        "no-reply",
        "contact",
        "mail",
        "email",
        "hello",
        "office",
        "sales",
        "support",
        "shop",
        "orders",
        "order",
        "kontakt",
        "service",
        "team",
        "none",
        "na",
        "null",
        "nomail",
        "noemail",
        "example",
        "user",
        "customer",
        "webmaster",
    ]
)

_NUMBER = re.compile(r"^(\d+)([a-z]?)$")
_UNIT_WORDS = frozenset(
    [
        "flat",
        "apt",
        "apartment",
        "unit",
        "suite",
        "ste",
        "no",
        "nr",
        "piso",
        "puerta",
        "etage",
        "stock",
        "wohnung",
        "app",
        "appartement",
        "interno",
        "int",
        "scala",
        "bus",
        "lgh",
        "dept",
        "room",
    ]
)
_STREET_WORDS = {
    "st": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "blvd": "boulevard",
    "bd": "boulevard",
    "bld": "boulevard",
    "dr": "drive",
    "ct": "court",
    "pl": "place",
    "sq": "square",
    "r": "rue",
    "c": "calle",
    "cl": "calle",
    "avda": "avenida",
    "pza": "plaza",
    "v": "via",
    "cso": "corso",
    "pzza": "piazza",
    "vle": "viale",
    "cad": "caddesi",
    "cd": "caddesi",
    "sk": "sokak",
    "sok": "sokak",
    "ul": "",
    "ulica": "",
    "al": "aleja",
}
# Street-type suffixes glued to the name: Hauptstraße / Hauptstrasse / Hauptstr / Kerkstraat.
_STREET_SUFFIX = re.compile(r"(strasse|straat|str)$")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class MatchFields:
    customer_id: int
    email: str = ""  # mirror-normalised
    email_local: str = ""
    email_domain: str = ""  # provider typo corrected
    phone: str = ""  # E.164
    phone_last9: str = ""
    first_name: str = ""  # folded
    last_name: str = ""
    first_name_german: str = ""
    last_name_german: str = ""
    last_name_tokens: tuple[str, ...] = ()
    first_formal: frozenset[str] = frozenset()
    surname_phonetic: str = ""
    house_number: str = ""
    street: str = ""
    postcode: str = ""
    city: str = ""

    @property
    def email_canonical(self) -> str:
        return f"{self.email_local}@{self.email_domain}" if self.email_local else ""

    @property
    def first_initial(self) -> str:
        return self.first_name[:1]


@lru_cache(maxsize=1 << 18)
def fold_text(raw: str | None) -> str:
    """Lowercase, accents removed, punctuation to spaces, single-spaced: 'Saint-Étienne' -> 'saint etienne'."""
    if not raw:
        return ""
    return " ".join(
        name_key(word) for word in _WORD.findall(raw.replace("ß", "ss")) if name_key(word)
    )


def german_fold(folded: str) -> str:
    """Müller is typed Mueller: fold both to 'muller' (applied to both sides, so it stays symmetric)."""
    return folded.replace("ae", "a").replace("oe", "o").replace("ue", "u")


_SKELETON_DIGRAPHS = (("kh", "k"), ("ph", "f"), ("th", "t"), ("ck", "k"), ("sch", "s"), ("sh", "s"))
_SKELETON_LETTERS = str.maketrans({"w": "v", "c": "k", "q": "k", "z": "s", "x": "s"})


@lru_cache(maxsize=65536)
def name_skeleton(folded: str) -> str:
    """The consonants of a name as transliterations keep them (and an initial vowel), plus its last
    letter, so spelling variants of one name meet: Mohammed / Muhammad -> 'mhmt·t', Fyodorov /
    Fjodorow -> 'fdrv·v', Youssef / Yusuf -> 'jsf·f', Layla / Leila -> 'l·a', Yulia / Julia /
    Iuliia -> 'jl·a', Yelena / Elena -> 'eln·a', Ahmed / Ahmet -> 'ahmt·t'. An h counts only before a vowel (Hannah),
    a j only at the start (Jana, but Fjodorow). The last letter keeps Maria and Mario, Anna and
    Anne, Jan and Jana, Daniel and Daniela apart (partners in one household are often such pairs).
    """
    word = folded.replace(" ", "")
    if not word:
        return ""
    # Cyrillic ye at the start is written ye, je or e: Yelena / Jelena / Elena, Yevgeni / Evgeny.
    if word[:2] in ("ye", "je") and len(word) > 2 and word[2] not in _SKELETON_VOWELS:
        word = word[1:]
    # An initial y, j or i before a vowel is one sound (a glide): Yulia / Julia / Iuliia.
    elif word[0] in "yji" and len(word) > 1 and word[1] in _SKELETON_VOWELS:
        word = "j" + word[1:]
    word = word.replace("ks", "x")  # Aleksandr / Alexandr, Maksim / Maxim, Ksenia / Xenia
    if word.endswith("d"):  # a final d is spoken t: Ahmed / Ahmet, Mohammed / Mohammet
        word = word[:-1] + "t"
    for digraph, letter in _SKELETON_DIGRAPHS:
        word = word.replace(digraph, letter)
    word = word.translate(_SKELETON_LETTERS)
    consonants: list[str] = []
    previous = ""
    for i, ch in enumerate(word):
        vowel = ch in _SKELETON_VOWELS or (ch == "j" and i > 0)
        silent_h = ch == "h" and (i == len(word) - 1 or (previous and previous not in "aeiouyj"))
        if not vowel and not silent_h and (not consonants or consonants[-1] != ch):
            consonants.append(ch)
        previous = ch
    last = word.rstrip("h")[-1:] or word[-1]
    # A name that starts with a vowel keeps it: Ines / Anais, Emilie / Amelie are two names.
    initial = word[0] if word[0] in _SKELETON_VOWELS else ""
    return initial + "".join(consonants) + "·" + ("i" if last in "yj" else last)


_SKELETON_VOWELS = frozenset("aeiouy")


# One mail provider under several domains: a mailbox at gmx.de is also reachable at gmx.net, and
# people slip between the endings (web.com for web.de); outlook, hotmail, live and msn are one.
_PROVIDER_FAMILIES = {
    "googlemail": "gmail",
    "me": "icloud",
    "mac": "icloud",
    "hotmail": "microsoft",
    "outlook": "microsoft",
    "live": "microsoft",
    "msn": "microsoft",
    "ymail": "yahoo",
    "tonline": "t-online",
}


@lru_cache(maxsize=1 << 16)
def mail_provider(domain: str) -> str:
    """The provider behind a (corrected) domain: its first label, with known sister brands joined:
    'gmx.net' -> 'gmx', 'live.co.uk' -> 'microsoft', 'praxis-weber.de' -> 'praxis-weber'."""
    label = domain.partition(".")[0]
    return _PROVIDER_FAMILIES.get(label, label)


@lru_cache(maxsize=1 << 16)
def canonical_domain(domain: str) -> str:
    domain = domain.strip().lower()
    if not domain or domain in PROVIDER_DOMAINS:
        return domain
    label, _, tld = domain.partition(".")
    if label in _GLOBAL_PROVIDERS and tld:
        return _GLOBAL_PROVIDERS[label]
    if tld in _COM_SLIPS and f"{label}.com" in PROVIDER_DOMAINS:
        return f"{label}.com"
    if len(domain) >= 6:
        for length in (len(domain) - 1, len(domain), len(domain) + 1):
            for provider in _PROVIDERS_BY_LENGTH.get(length, ()):
                if OSA.distance(domain, provider, score_cutoff=1) <= 1:
                    return provider
    return domain


def email_parts(raw: str | None) -> tuple[str, str, str]:
    """(mirror-normalised email, local part, provider-corrected domain); empty strings when unusable."""
    email = email_normalize(raw)
    if not email:
        return "", "", ""
    local, _, domain = email.rpartition("@")
    domain = canonical_domain(domain)
    if domain == "gmail.com":
        local = local.replace(".", "")
    return email, local, domain


def phone_last9(raw: str | None) -> str:
    digits = "".join(ch for ch in raw or "" if ch.isdigit())
    return digits[-9:] if len(digits) >= 9 else ""


@lru_cache(maxsize=1 << 18)
def surname_phonetic(folded_last_name: str) -> str:
    token = folded_last_name.split(" ")[0] if folded_last_name else ""
    return jellyfish.metaphone(token).upper() if token.isascii() and token else token


@lru_cache(maxsize=1 << 18)
def parse_street_line(raw: str | None) -> tuple[str, str]:
    """(house number, street words): 'Flat 4, 12 Baker St' -> ('12', 'baker street')."""
    tokens = fold_text(raw).split()
    house = ""
    words: list[str] = []
    after_unit_word = False
    for token in tokens:
        number = _NUMBER.match(token)
        if number:
            if not after_unit_word and not house:
                house = number.group(1) + number.group(2)
            after_unit_word = False
            continue
        if token in _UNIT_WORDS:
            after_unit_word = True
            continue
        after_unit_word = False
        word = _STREET_WORDS.get(token, token)
        word = _STREET_SUFFIX.sub("str", word)
        if word:
            words.append(word)
    return house, " ".join(words)


@lru_cache(maxsize=1 << 16)
def _phone(raw: str | None, region: str | None) -> str:
    return phone_normalize(raw, region=region)


def _tokens(folded_last_name: str) -> tuple[str, ...]:
    return tuple(folded_last_name.split())


def _formal(folded_first_name: str) -> frozenset[str]:
    return formal_names(folded_first_name.split(" ")[0]) if folded_first_name else frozenset()


def match_fields(
    *,
    customer_id: int,
    email: str | None = "",
    phone: str | None = "",
    first_name: str | None = "",
    last_name: str | None = "",
    address1: str | None = "",
    postcode: str | None = "",
    city: str | None = "",
    country_code: str | None = "",
    default_region: str | None = "",
    phone_e164: str | None = None,
) -> MatchFields:
    """`phone_e164`: the phone already in E.164 (the mirror keeps it), to skip parsing it again."""
    email_norm, local, domain = email_parts(email)
    first = fold_text(first_name)
    last = fold_text(last_name)
    house, street = parse_street_line(address1)
    region = (country_code or default_region or "").upper() or None
    return MatchFields(
        customer_id=customer_id,
        email=email_norm,
        email_local=local,
        email_domain=domain,
        phone=phone_e164 if phone_e164 is not None else _phone(phone, region),
        phone_last9=phone_last9(phone),
        first_name=first,
        last_name=last,
        first_name_german=german_fold(first),
        last_name_german=german_fold(last),
        last_name_tokens=_tokens(last),
        first_formal=_formal(first),
        surname_phonetic=surname_phonetic(last),
        house_number=house,
        street=street,
        postcode=postcode_normalize(postcode, country_code=country_code),
        city=fold_text(city),
    )


# MatchFields' text fields in order; the others follow from them (tokens, formal names).
_TEXT_FIELDS = tuple(
    name
    for name in MatchFields.__slots__
    if name not in ("customer_id", "last_name_tokens", "first_formal")
)
# Text fields many customers share (names, places): one string object each once unpacked.
_SHARED_FIELDS = frozenset(_TEXT_FIELDS) - {"email", "email_local", "phone", "phone_last9"}


def match_fields_pack(records: Sequence[MatchFields]) -> tuple[array, list[str]]:
    """Records for another process: their ids and one text per field, the values joined by NUL
    (no PostgreSQL text holds one). A pickle of that is a few large strings, so the other
    process unpickles it several times faster than the records themselves."""
    ids = array("q", (r.customer_id for r in records))
    return ids, ["\0".join([getattr(r, name) for r in records]) for name in _TEXT_FIELDS]


def match_fields_unpack(packed: tuple[array, list[str]]) -> list[MatchFields]:
    """The records `match_fields_pack` packed, equal to them."""
    ids, texts = packed
    if not ids:
        return []
    columns = []
    for name, text in zip(_TEXT_FIELDS, texts, strict=True):
        values = text.split("\0")
        if name in _SHARED_FIELDS:
            shared: dict[str, str] = {}
            values = [shared.setdefault(v, v) for v in values]
        columns.append(values)
    text = dict(zip(_TEXT_FIELDS, columns, strict=True))
    derived = {
        "last_name_tokens": map(_tokens, text["last_name"]),
        "first_formal": map(_formal, text["first_name"]),
    }
    fields = [
        ids,
        *(text[name] if name in text else derived[name] for name in MatchFields.__slots__[1:]),
    ]
    return [MatchFields(*values) for values in zip(*fields, strict=True)]
