"""The exact blocking keys of one customer: pure functions of its `MatchFields`.

Each key type catches a family of duplicates the others miss (reference/matching.md 4.2):
email (typo'd provider domain corrected), email local part (same person, new domain), phone,
the phone's last 9 digits (a number typed without its country code), surname sound + first
initial (spelling and transliteration slips), the name pair in either order (swapped first/last,
compound surnames written as one word, German ü/ue), the formal name behind a nickname with the
surname, postcode + house number, street + house number (postcode missing or mistyped).
"""

from .nicknames import FORMAL_NAMES
from .normalize import GENERIC_LOCALS, MatchFields

KEY_TYPES = (
    "email",
    "email_local",
    "phone",
    "phone_last9",
    "sound_initial",
    "name_pair",
    "formal_pair",
    "postcode_house",
    "street_house",
)
MIN_EMAIL_LOCAL = 4  # "jo", "abc" are shared by strangers across domains


def _pair(one: str, other: str) -> str:
    return "|".join(sorted((one, other)))


def blocking_keys(fields: MatchFields) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    if fields.email_local:
        keys.add(("email", fields.email_canonical))
        local = fields.email_local.replace(".", "")  # ann.lee at gmail is annlee elsewhere
        if len(local) >= MIN_EMAIL_LOCAL and local not in GENERIC_LOCALS and not local.isdigit():
            keys.add(("email_local", local))
    if fields.phone:
        keys.add(("phone", fields.phone))
    if fields.phone_last9:
        keys.add(("phone_last9", fields.phone_last9))
    first = fields.first_name.replace(" ", "")
    last = fields.last_name.replace(" ", "")
    if fields.surname_phonetic and fields.first_initial:
        keys.add(("sound_initial", f"{fields.surname_phonetic}|{fields.first_initial}"))
    if first and last:
        keys.add(("name_pair", _pair(first, last)))
        german = _pair(
            fields.first_name_german.replace(" ", ""), fields.last_name_german.replace(" ", "")
        )
        keys.add(("name_pair", german))
        first_token = fields.first_name.split(" ")[0]
        for token in fields.last_name_tokens:
            if len(token) >= 3 and token != last:
                keys.add(("name_pair", _pair(first_token, token)))
        if first_token in FORMAL_NAMES:  # bob smith and robert smith both get robert|smith
            keys.update(("formal_pair", f"{formal}|{last}") for formal in FORMAL_NAMES[first_token])
    if fields.house_number:
        if fields.postcode:
            keys.add(("postcode_house", f"{fields.postcode}|{fields.house_number}"))
        if fields.street:
            keys.add(("street_house", f"{fields.street.replace(' ', '')}|{fields.house_number}"))
    return keys
