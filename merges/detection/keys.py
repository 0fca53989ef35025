"""The exact blocking keys of one customer: pure functions of its `MatchFields`.

Each key type catches a family of duplicates the others miss (reference/matching.md 4.2):
email (typo'd provider domain corrected), email local part (same person, new domain), phone,
the phone's last 9 digits (a number typed without its country code), surname sound + first
initial (spelling and transliteration slips), the name pair in either order (swapped first/last,
compound surnames written as one word, German ü/ue), the formal name behind a nickname with the
surname, postcode + house number, street + house number (postcode missing or mistyped).

A name alone stops being a key in a large store: at 1,000,000 customers most name pairs, surname
sounds and street + house numbers are held by more customers than the share cap, and pairs that
meet only through a name (an email typo and no address, a phone typo, a new mailbox) were never
compared. So the name pair also makes keys together with one coarse attribute, selective at any
store size and kept when one other field changed: the last four characters of the email local
part (a typo before them; the provider may differ), the same with the mail provider (when the
local alone is too common), the local part's length at the provider (a slipped or swapped letter
near its end), the postcode area (a new house nearby), the first five or the last four of the
phone's last 9 digits (one of the two survives a digit typo). And the surname sound with postcode
+ house number (a nickname or a misspelt first name where many live at one number).
"""

from .nicknames import FORMAL_NAMES
from .normalize import GENERIC_LOCALS, MatchFields, mail_provider

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
    "name_local_tail",
    "name_mail_tail",
    "name_mail_len",
    "name_area",
    "name_phone_head",
    "name_phone_tail",
    "house_sound",
)
MIN_EMAIL_LOCAL = 4  # "jo", "abc" are shared by strangers across domains
AREA_LENGTH = 3  # postcode characters naming an area: 10115 -> 101, SW1A 1AA -> SW1
LOCAL_TAIL_LENGTH = 4
PHONE_HEAD_LENGTH = 5  # of the last 9 digits; the tail is the other 4


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
        names = {
            _pair(first, last),
            _pair(
                fields.first_name_german.replace(" ", ""), fields.last_name_german.replace(" ", "")
            ),
        }
        first_token = fields.first_name.split(" ")[0]
        for token in fields.last_name_tokens:
            if len(token) >= 3 and token != last:
                names.add(_pair(first_token, token))
        keys.update(("name_pair", name) for name in names)
        keys.update(_name_with_attribute(names, fields))
        if first_token in FORMAL_NAMES:  # bob smith and robert smith both get robert|smith
            keys.update(("formal_pair", f"{formal}|{last}") for formal in FORMAL_NAMES[first_token])
    if fields.house_number:
        if fields.postcode:
            keys.add(("postcode_house", f"{fields.postcode}|{fields.house_number}"))
            if fields.surname_phonetic:
                house = f"{fields.postcode}|{fields.house_number}|{fields.surname_phonetic}"
                keys.add(("house_sound", house))
        if fields.street:
            keys.add(("street_house", f"{fields.street.replace(' ', '')}|{fields.house_number}"))
    return keys


def _name_with_attribute(names: set[str], fields: MatchFields) -> set[tuple[str, str]]:
    """The name pairs, each with one coarse attribute (see the module's docstring)."""
    attributes = []
    if fields.email_local:
        local = fields.email_local.replace(".", "")
        provider = mail_provider(fields.email_domain)
        tail = local[-LOCAL_TAIL_LENGTH:]
        attributes.append(("name_local_tail", tail))
        attributes.append(("name_mail_tail", f"{provider}|{tail}"))
        attributes.append(("name_mail_len", f"{provider}|{len(local)}"))
    if fields.postcode:
        attributes.append(("name_area", fields.postcode[:AREA_LENGTH]))
    if fields.phone_last9:
        attributes.append(("name_phone_head", fields.phone_last9[:PHONE_HEAD_LENGTH]))
        attributes.append(("name_phone_tail", fields.phone_last9[PHONE_HEAD_LENGTH:]))
    return {(key_type, f"{name}|{value}") for name in names for key_type, value in attributes}
