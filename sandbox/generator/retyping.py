"""The same address typed again by the same person: abbreviations, case, spacing, accents.

"Hauptstraße 5" comes back as "Hauptstr. 5", "12 High Street" as "12 High St", "1234 AB" as
"1234AB". Normalising these is the deduplicator's job (reference/matching.md, address section).
"""

import random
import re

from .emails import ascii_fold

ABBREVIATIONS = (
    (re.compile(r"straße\b"), ("str.", "strasse", "str")),
    (re.compile(r"Straße\b"), ("Str.", "Strasse")),
    (re.compile(r"strasse\b"), ("str.", "straße")),
    (re.compile(r"\bStreet\b"), ("St", "St.", "street")),
    (re.compile(r"\bSt\b"), ("Street", "St.")),
    (re.compile(r"\bRoad\b"), ("Rd", "Rd.")),
    (re.compile(r"\bAvenue\b"), ("Ave", "Av.")),
    (re.compile(r"\bAve\b"), ("Avenue",)),
    (re.compile(r"\bLane\b"), ("Ln",)),
    (re.compile(r"\bLn\b"), ("Lane",)),
    (re.compile(r"\bBlvd\b"), ("Boulevard",)),
    (re.compile(r"\bavenue\b"), ("av.", "ave")),
    (re.compile(r"\bboulevard\b"), ("bd", "bld")),
    (re.compile(r"\brue\b"), ("Rue", "r.")),
    (re.compile(r"\bCalle\b"), ("C/", "c/", "Cl.")),
    (re.compile(r"\bAvenida\b"), ("Avda.", "Av.")),
    (re.compile(r"\bPlaza\b"), ("Pza.", "Pl.")),
    (re.compile(r"\bVia\b"), ("V.", "via")),
    (re.compile(r"\bCorso\b"), ("C.so",)),
    (re.compile(r"\bPiazza\b"), ("P.za", "P.zza")),
    (re.compile(r"\bViale\b"), ("V.le",)),
    (re.compile(r"straat\b"), ("str", "str.")),
    (re.compile(r"^ul\. "), ("", "ulica ")),
    (re.compile(r"^al\. "), ("aleja ",)),
    (re.compile(r"\bCaddesi\b"), ("Cad.", "Cd.")),
    (re.compile(r"\bSokak\b"), ("Sk.", "Sok.")),
)


def retype_street(rng: random.Random, address1: str) -> str:
    """One plausible re-typing of the street line; unchanged when nothing applies."""
    options = [(pattern, forms) for pattern, forms in ABBREVIATIONS if pattern.search(address1)]
    roll = rng.random()
    if options and roll < 0.6:
        pattern, forms = rng.choice(options)
        return pattern.sub(rng.choice(forms), address1, count=1).strip()
    if roll < 0.75:
        return address1.lower()
    if roll < 0.85 and not address1.isascii():
        return ascii_fold(address1, german=rng.random() < 0.5)
    if roll < 0.95:
        parts = address1.rsplit(" ", 1)
        if len(parts) == 2 and parts[1][:1].isdigit():
            return f"{parts[0]}, {parts[1]}"  # "Calle Mayor, 5"
    return address1


def retype_zip(rng: random.Random, postcode: str) -> str:
    """ "1234 AB" -> "1234AB", "SW1A 1AA" -> "sw1a1aa"; numeric postcodes stay."""
    if " " in postcode and rng.random() < 0.6:
        squashed = postcode.replace(" ", "")
        return squashed.lower() if rng.random() < 0.3 else squashed
    return postcode


def retype_city(rng: random.Random, city: str) -> str:
    roll = rng.random()
    if roll < 0.15:
        return city.lower()
    if roll < 0.3 and not city.isascii():
        return ascii_fold(city, german=rng.random() < 0.5)
    if roll < 0.4 and " " in city:
        return city.split(" ")[0]  # "Frankfurt am Main" -> "Frankfurt"
    return city
