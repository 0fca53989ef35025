# ruff: noqa: RUF001 - Turkish names and places are spelt with the dotless i on purpose
"""Mailbox addresses built from names, and the ways the same person's address varies.

Real duplicate profiles never share an email: Shopify refuses a second customer with the same
address (case and spaces ignored). They differ by a typo, a switched or misspelt provider, gmail's
ignored dots and "+tags", or no email at all.
"""

import random
import unicodedata
from functools import cache

from .names import UMLAUT_TRANSCRIPTION

# Neighbouring keys on QWERTY/QWERTZ keyboards (y and z both, for German keyboards).
KEY_NEIGHBOURS = {
    "q": "wa",
    "w": "qes",
    "e": "wrd",
    "r": "etf",
    "t": "ryg",
    "y": "tuhx",
    "u": "yij",
    "i": "uok",
    "o": "ipl",
    "p": "ol",
    "a": "qsz",
    "s": "adwx",
    "d": "sfec",
    "f": "dgrv",
    "g": "fhtb",
    "h": "gjyn",
    "j": "hkum",
    "k": "jli",
    "l": "kop",
    "z": "asxt",
    "x": "zsc",
    "c": "xdv",
    "v": "cfb",
    "b": "vgn",
    "n": "bhm",
    "m": "nj",
    "1": "2q",
    "2": "13w",
    "3": "24e",
    "4": "35r",
    "5": "46t",
    "6": "57y",
    "7": "68u",
    "8": "79i",
    "9": "80o",
    "0": "9p",
}

# Misspelt or swapped provider domains people really type; the first entry of each is a typo.
DOMAIN_TYPOS = {
    "gmail.com": (
        "gmial.com",
        "gmai.com",
        "gmail.co",
        "gmal.com",
        "gmail.de",
        "gmaill.com",
        "gamil.com",
    ),
    "googlemail.com": ("googlemail.de", "goolemail.com"),
    "hotmail.com": ("hotmial.com", "hotmail.co", "hotmal.com", "hotmail.con"),
    "yahoo.com": ("yahooo.com", "yaho.com", "yahoo.co"),
    "outlook.com": ("outlok.com", "outloo.com", "outlook.co"),
    "web.de": ("wep.de", "web.com", "weg.de"),
    "gmx.de": ("gmx.com", "gmx.dr", "gmc.de"),
    "t-online.de": ("tonline.de", "t-onlin.de", "t-online.com"),
    "icloud.com": ("iclod.com", "icould.com", "icloud.co"),
    "orange.fr": ("orage.fr", "orange.com"),
    "libero.it": ("libero.com", "lbero.it"),
    "wp.pl": ("wp.com", "wpp.pl"),
}

# Same mailbox, other spelling of the provider (Google treats both as one account).
DOMAIN_ALIASES = {
    "gmail.com": "googlemail.com",
    "googlemail.com": "gmail.com",
    "gmx.de": "gmx.net",
    "gmx.net": "gmx.de",
    "hotmail.com": "hotmail.de",
    "hotmail.de": "hotmail.com",
    "outlook.com": "hotmail.com",
    "me.com": "icloud.com",
    "icloud.com": "me.com",
}

# Providers that deliver "local+anything@" to "local@"; gmail also ignores dots.
PLUS_ADDRESSING = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "icloud.com",
        "me.com",
        "posteo.de",
    }
)
GMAIL = frozenset({"gmail.com", "googlemail.com"})
PLUS_TAGS = ("shop", "shopping", "newsletter", "orders", "online", "store", "promo", "1", "news")

# Different people given a placeholder address by staff or a form that required one.
PLACEHOLDER_EMAILS = (
    "noemail@example.com",
    "no.email@example.com",
    "noemail@noemail.com",
    "none@none.com",
    "no@email.com",
    "keine@email.de",
    "keine.email@web.de",
    "na@na.com",
    "aucun@email.fr",
    "sinemail@gmail.com",
    "test@test.com",
    "x@x.com",
    "kunde@shop.de",
    "noemail1@example.com",
    "noemail2@example.com",
    "no-email@example.com",
    "pos@example.com",
    "nomail@nomail.com",
)


def mailbox(address: str) -> str:
    """The mailbox an address delivers to: googlemail is gmail, gmail ignores dots, and providers
    with plus addressing ignore "+tags" ("Anna.Lee+shop@googlemail.com" -> "annalee@gmail.com")."""
    local, _, domain = address.lower().rpartition("@")
    if domain in GMAIL:
        domain = "gmail.com"
        local = local.replace(".", "")
    if domain in PLUS_ADDRESSING:
        local = local.split("+", 1)[0]
    return f"{local}@{domain}"


@cache
def ascii_fold(text: str, *, german: bool = False) -> str:
    """ "Müller" -> "muller" (or "mueller" with German transcription), "Łukasz" -> "lukasz"."""
    if german:
        text = "".join(UMLAUT_TRANSCRIPTION.get(ch, ch) for ch in text)
    text = text.replace("ł", "l").replace("Ł", "L").replace("ı", "i").replace("ø", "o")
    text = text.replace("ß", "ss").replace("æ", "ae").replace("œ", "oe")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@cache
def _mail_token(name: str, german: bool) -> str:
    folded = ascii_fold(name, german=german).lower()
    return "".join(ch for ch in folded if ch.isalnum() or ch == "-").strip("-")


def local_part(rng: random.Random, first: str, last: str, birth_year: int, *, german: bool) -> str:
    """A mailbox name built from a person's name the ways people choose them."""
    f = _mail_token(first, german) or "kunde"
    last_token = _mail_token(last.replace(" ", ""), german) or "mail"
    pick = rng.random()
    if pick < 0.30:
        local = f"{f}.{last_token}"
    elif pick < 0.42:
        local = f"{f}{last_token}"
    elif pick < 0.52:
        local = f"{f[0]}.{last_token}"
    elif pick < 0.60:
        local = f"{f[0]}{last_token}"
    elif pick < 0.66:
        local = f"{f}_{last_token}"
    elif pick < 0.78:
        local = f"{f}.{last_token}{birth_year % 100:02d}"
    elif pick < 0.84:
        local = f"{last_token}.{f}"
    elif pick < 0.90:
        local = f"{f}{birth_year}"
    elif pick < 0.95:
        local = f"{f}{last_token[0]}{rng.randrange(1, 100)}"
    else:
        local = f"{f}.{last_token}{rng.randrange(1, 1000)}"
    return local


def custom_domain(rng: random.Random, last: str, tld: str, *, german: bool) -> str:
    """A small business or family domain: "mueller-design.de", "praxis-weber.de"."""
    token = _mail_token(last.replace(" ", ""), german) or "firma"
    pattern = rng.choice(
        (
            "{t}.{tld}",
            "{t}-design.{tld}",
            "praxis-{t}.{tld}",
            "{t}-consulting.{tld}",
            "familie-{t}.{tld}",
            "{t}-online.{tld}",
            "kanzlei-{t}.{tld}",
            "{t}-studio.{tld}",
        )
    )
    return pattern.format(t=token, tld=tld)


def typo_local(rng: random.Random, local: str) -> str | None:
    """One slip of the finger in the mailbox name: neighbour key, dropped, doubled or swapped letter."""
    letters = [i for i, ch in enumerate(local) if ch.isalnum()]
    if len(letters) < 3:
        return None
    for _ in range(8):
        i = rng.choice(letters)
        action = rng.randrange(4)
        if action == 0 and local[i].lower() in KEY_NEIGHBOURS:
            variant = local[:i] + rng.choice(KEY_NEIGHBOURS[local[i].lower()]) + local[i + 1 :]
        elif action == 1:
            variant = local[:i] + local[i + 1 :]
        elif action == 2:
            variant = local[:i] + local[i] + local[i:]
        elif i + 1 < len(local) and local[i + 1].isalnum() and local[i] != local[i + 1]:
            variant = local[:i] + local[i + 1] + local[i] + local[i + 2 :]
        else:
            continue
        if variant != local and not variant.startswith(".") and ".." not in variant:
            return variant
    return None


def domain_variant(rng: random.Random, domain: str, providers: tuple[tuple[str, int], ...]) -> str:
    """Another provider or a misspelt one for the same mailbox name."""
    pick = rng.random()
    if pick < 0.35 and domain in DOMAIN_ALIASES:
        return DOMAIN_ALIASES[domain]
    if pick < 0.7 and domain in DOMAIN_TYPOS:
        return rng.choice(DOMAIN_TYPOS[domain])
    others = [name for name, _ in providers if name != domain]
    return rng.choice(others)


def alias_local(rng: random.Random, local: str, domain: str) -> str | None:
    """gmail dots moved or a "+tag" added: delivered to the same mailbox."""
    base = local.split("+", 1)[0]
    if domain in GMAIL and rng.random() < 0.6:
        plain = base.replace(".", "")
        if "." in base:
            return plain if rng.random() < 0.5 else _insert_dot(rng, plain, avoid=base)
        return _insert_dot(rng, plain, avoid=base)
    if domain in PLUS_ADDRESSING:
        return f"{base}+{rng.choice(PLUS_TAGS)}"
    return None


def _insert_dot(rng: random.Random, plain: str, *, avoid: str) -> str | None:
    if len(plain) < 3:
        return None
    for _ in range(5):
        i = rng.randrange(1, len(plain) - 1)
        variant = plain[:i] + "." + plain[i:]
        if variant != avoid:
            return variant
    return None


def capitalised(local: str) -> str:
    """ "Anna.Mueller": some customers type capitals; Shopify keeps the case it was given."""
    return ".".join(part[:1].upper() + part[1:] for part in local.split("."))
