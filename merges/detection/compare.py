"""Comparison levels per field, computed in bulk for many pairs (reference/matching.md 4.3).

Each field has ordered levels, first match wins; level 0 is always "missing on one side" and carries
no weight, so missing data is never evidence against. String similarities come from rapidfuzz's
`process.cpdist`, one call per field and scorer for all pairs at once.
"""

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from .normalize import MatchFields, mail_provider, name_skeleton

FIELD_LEVELS: dict[str, tuple[str, ...]] = {
    "email": (
        "missing on one side",
        "identical (after gmail and provider-typo rules)",
        "same local part at the same provider (another domain ending or sister brand)",
        "same local part, different domain",
        "same local part: the name with the same number, different domain",
        "same local part that only spells the name, different domain",
        "local part one edit apart, same domain",
        "local part similar (Jaro-Winkler >= 0.88), same domain",
        "local part similar (Jaro-Winkler >= 0.88), different domain",
        "both local parts only spell the name, differently (no evidence beyond the names)",
        "different",
    ),
    "phone": (
        "missing on one side",
        "identical number",
        "same last 9 digits",
        "one digit wrong or two swapped",
        "different",
    ),
    "first_name": (
        "missing on one side",
        "identical",
        "nickname of the same name",
        "same name in another spelling (transliteration, ü/ue)",
        "very similar (Jaro-Winkler >= 0.92)",
        "similar (Jaro-Winkler >= 0.88)",
        "initial only, matching",
        "different",
    ),
    "last_name": (
        "missing on one side",
        "identical",
        "very similar (Jaro-Winkler >= 0.92)",
        "compound or double surname overlaps",
        "same sound or a transliteration of it",
        "different",
    ),
    "address": (
        "missing on one side",
        "same postcode, house number and street",
        "same postcode and house number",
        "same street and house number",
        "same postcode, different house",
        "same city only",
        "different",
    ),
    "orders": (
        "no orders on one side",
        "bought the same product, one few customers buy (< 1 %)",
        "bought the same product, one some customers buy (< 5 %)",
        "bought the same popular products only",
        "nothing bought in common (no evidence either way)",
    ),
}
# Orders: the share of the shop's ordering customers who bought a product, below which a product
# both bought is "few" / "some" customers' (a shop's bestsellers are bought by strangers alike).
RARE_PRODUCT_SHARE = 0.01
UNCOMMON_PRODUCT_SHARE = 0.05
FIELDS = tuple(FIELD_LEVELS)
MISSING = 0


@dataclass
class RecordTable:
    """MatchFields as columns, so a pair list indexes every field at once."""

    ids: np.ndarray
    columns: dict[str, np.ndarray]
    # product id -> share of the shop's ordering customers who bought it (see product_shares)
    product_share: dict[int, float] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        records: Sequence[MatchFields],
        products: Mapping[int, Collection[int]] | None = None,
        product_share: Mapping[int, float] | None = None,
    ) -> "RecordTable":
        """`products`: the product ids each customer ordered (customers without orders may be
        left out); `product_share`: how common each product is in the whole shop (the fitted
        model's, when only a neighbourhood is built), else counted on these customers."""
        names = (
            "email_canonical", "email_local", "email_domain", "phone", "phone_last9", "first_name",
            "last_name", "first_name_german", "last_name_german", "surname_phonetic",
            "house_number", "street", "postcode", "city",
        )  # fmt: skip
        columns = {
            name: np.array([getattr(r, name) for r in records], dtype=object) for name in names
        }
        for name in ("first_name", "last_name"):
            columns[f"{name}_skeleton"] = np.array(
                [name_skeleton(v) for v in columns[name]], dtype=object
            )
        columns["email_provider"] = np.array(
            [mail_provider(v) for v in columns["email_domain"]], dtype=object
        )
        columns["first_formal"] = np.array([r.first_formal for r in records], dtype=object)
        columns["email_from_name"] = np.array([_spells_name(r) for r in records], dtype=bool)
        columns["email_has_number"] = np.array(
            [any(ch.isdigit() for ch in r.email_local) for r in records], dtype=bool
        )
        products = products or {}
        columns["products"] = np.array(
            [frozenset(products.get(r.customer_id, ())) for r in records], dtype=object
        )
        if product_share is None:
            product_share = product_shares(columns["products"])
        return cls(
            ids=np.array([r.customer_id for r in records], dtype=np.int64),
            columns=columns,
            product_share=dict(product_share),
        )

    def positions(self, customer_ids: np.ndarray) -> np.ndarray:
        order = np.argsort(self.ids)
        return order[np.searchsorted(self.ids, customer_ids, sorter=order)]


def product_shares(baskets: Iterable[frozenset]) -> dict[int, float]:
    """Share of the customers with orders who bought each product."""
    counts: Counter = Counter()
    buyers = 0
    for basket in baskets:
        if basket:
            buyers += 1
            counts.update(basket)
    return {product: n / buyers for product, n in counts.items()} if buyers else {}


def _spells_name(record: MatchFields) -> bool:
    """Whether the email's local part is just the name (annamoeller, a.moeller, moeller_anna89):
    then a similar address elsewhere echoes the name comparison instead of adding to it."""
    letters = "".join(ch for ch in record.email_local if ch.isalpha())
    first = record.first_name_german.replace(" ", "")
    last = record.last_name_german.replace(" ", "")
    letters = letters.replace("ae", "a").replace("oe", "o").replace("ue", "u")
    if not letters or not (first or last):
        return False
    forms = {
        first + last,
        last + first,
        first[:1] + last,
        last + first[:1],
        first + last[:1],
        last,
        first,
    }
    return letters in forms


def _present(values: np.ndarray) -> np.ndarray:
    return values.astype(bool)


# Below this many pairs a thread pool costs more than it saves (~5 ms a call on a busy machine,
# eight calls per scoring: the incremental check of one customer scores a handful of pairs).
PARALLEL_MIN_PAIRS = 10_000


def _similarity(left: np.ndarray, right: np.ndarray, scorer) -> np.ndarray:
    workers = -1 if len(left) >= PARALLEL_MIN_PAIRS else 1
    return process.cpdist(list(left), list(right), scorer=scorer, workers=workers)


def _assign(levels: np.ndarray, condition: np.ndarray, level: int) -> None:
    """Set `level` where `condition` holds and no earlier (better) level was set."""
    levels[(levels == -1) & condition] = level


def _email_levels(L: dict, R: dict) -> np.ndarray:
    levels = np.full(len(L["email_local"]), -1, dtype=np.int8)
    _assign(levels, ~(_present(L["email_local"]) & _present(R["email_local"])), 0)
    _assign(levels, L["email_canonical"] == R["email_canonical"], 1)
    both_names = L["email_from_name"] & R["email_from_name"]
    same_local = L["email_local"] == R["email_local"]
    _assign(levels, same_local & (L["email_provider"] == R["email_provider"]), 2)
    _assign(levels, same_local & ~both_names, 3)
    # anna.mueller49 at two providers: namesakes rarely also share the number (a birth year).
    _assign(levels, same_local & L["email_has_number"], 4)
    _assign(levels, same_local, 5)
    same_domain = L["email_domain"] == R["email_domain"]
    osa = _similarity(L["email_local"], R["email_local"], OSA.distance)
    _assign(levels, (osa <= 1) & same_domain & ~both_names, 6)
    # Two namesakes' addresses look alike because both spell the name: below "one edit apart",
    # only a similar local part at the same provider is told apart from one elsewhere.
    jw = _similarity(L["email_local"], R["email_local"], JaroWinkler.similarity) >= 0.88
    _assign(levels, jw & same_domain & ~both_names, 7)
    _assign(levels, jw & ~both_names, 8)
    _assign(levels, both_names, 9)
    _assign(levels, np.ones_like(same_domain, dtype=bool), 10)
    return levels


def _phone_levels(L: dict, R: dict) -> np.ndarray:
    left = np.where(_present(L["phone"]), L["phone"], L["phone_last9"])
    right = np.where(_present(R["phone"]), R["phone"], R["phone_last9"])
    levels = np.full(len(left), -1, dtype=np.int8)
    _assign(levels, ~(_present(left) & _present(right)), 0)
    _assign(levels, _present(L["phone"]) & (L["phone"] == R["phone"]), 1)
    _assign(levels, _present(L["phone_last9"]) & (L["phone_last9"] == R["phone_last9"]), 2)
    slip = (_similarity(L["phone_last9"], R["phone_last9"], Levenshtein.distance) <= 1) | (
        _similarity(L["phone_last9"], R["phone_last9"], OSA.distance) <= 1
    )
    _assign(levels, slip & _present(L["phone_last9"]) & _present(R["phone_last9"]), 3)
    _assign(levels, np.ones(len(left), dtype=bool), 4)
    return levels


_VOWELS = frozenset("aeiou")


def _one_vowel_more(short: str, long: str) -> bool:
    """'stephane' / 'stephanie', 'rene' / 'renee': the longer is the shorter plus one vowel at
    its end (Mahmud / Mahmoud, Ksenia / Kseniya are spellings, not another person's name)."""
    if len(long) != len(short) + 1:
        return False
    i = next((i for i, (a, b) in enumerate(zip(short, long, strict=False)) if a != b), len(short))
    return i >= len(short) - 1 and long[i] in _VOWELS and long[:i] + long[i + 1 :] == short


def _gendered_forms(L: dict, R: dict) -> np.ndarray:
    """One name's male and female forms: the same consonant skeleton with another last letter
    (see normalize.name_skeleton), or one vowel more (Stéphane / Stéphanie, René / Renée)."""
    return np.fromiter(
        (
            bool(a and b)
            and (
                (a[:-1] == b[:-1] and a[-1] != b[-1])
                or _one_vowel_more(x, y)
                or _one_vowel_more(y, x)
            )
            for a, b, x, y in zip(
                L["first_name_skeleton"],
                R["first_name_skeleton"],
                L["first_name"],
                R["first_name"],
                strict=True,
            )
        ),
        dtype=bool,
        count=len(L["first_name"]),
    )


def _share_a_vowel(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Whether two names have a vowel in common: spellings of one name keep one (Yulia / Iuliia,
    Mohammed / Muhammad, Layla / Leila, Youssef / Yusuf), while two short names on one consonant
    skeleton need not (Lin / Lan, Nancy / Nicky: households taken for one person until fs-4)."""
    return np.fromiter(
        (
            bool(_VOWELS.intersection(a) & _VOWELS.intersection(b))
            for a, b in zip(left, right, strict=True)
        ),
        dtype=bool,
        count=len(left),
    )


def _first_name_levels(L: dict, R: dict) -> np.ndarray:
    left, right = L["first_name"], R["first_name"]
    levels = np.full(len(left), -1, dtype=np.int8)
    _assign(levels, ~(_present(left) & _present(right)), 0)
    _assign(levels, left == right, 1)
    nick = np.fromiter(
        (bool(a & b) for a, b in zip(L["first_formal"], R["first_formal"], strict=True)),
        dtype=bool,
        count=len(left),
    )
    _assign(levels, nick, 2)
    # Daniel / Daniela, Maria / Mario, Jan / Jana: one name's male and female forms (Jaro-Winkler
    # 0.92-0.98) are two people, typically partners or siblings sharing an address.
    german = L["first_name_german"] == R["first_name_german"]  # Jörg / Joerg is one name
    _assign(levels, _gendered_forms(L, R) & ~german, 7)
    skeleton = _present(L["first_name_skeleton"]) & (
        L["first_name_skeleton"] == R["first_name_skeleton"]
    )
    _assign(levels, german | (skeleton & _share_a_vowel(left, right)), 3)
    jw = _similarity(left, right, JaroWinkler.similarity)
    _assign(levels, jw >= 0.92, 4)
    _assign(levels, jw >= 0.88, 5)
    initial = np.fromiter(
        ((len(a) == 1 or len(b) == 1) and a[:1] == b[:1] for a, b in zip(left, right, strict=True)),
        dtype=bool,
        count=len(left),
    )
    _assign(levels, initial, 6)
    _assign(levels, np.ones(len(left), dtype=bool), 7)
    return levels


def _last_name_levels(L: dict, R: dict) -> np.ndarray:
    left, right = L["last_name"], R["last_name"]
    levels = np.full(len(left), -1, dtype=np.int8)
    _assign(levels, ~(_present(left) & _present(right)), 0)
    _assign(levels, (left == right) | (L["last_name_german"] == R["last_name_german"]), 1)
    _assign(levels, _similarity(left, right, JaroWinkler.similarity) >= 0.92, 2)
    glued_left = np.array([v.replace(" ", "") for v in left], dtype=object)
    glued_right = np.array([v.replace(" ", "") for v in right], dtype=object)
    compound = (_similarity(left, right, fuzz.token_set_ratio) >= 90) | (glued_left == glued_right)
    _assign(levels, compound, 3)
    sound = _present(L["surname_phonetic"]) & (L["surname_phonetic"] == R["surname_phonetic"])
    sound |= _present(L["last_name_skeleton"]) & (
        L["last_name_skeleton"] == R["last_name_skeleton"]
    )
    _assign(levels, sound, 4)
    _assign(levels, np.ones(len(left), dtype=bool), 5)
    return levels


def _address_levels(L: dict, R: dict) -> np.ndarray:
    n = len(L["postcode"])
    levels = np.full(n, -1, dtype=np.int8)
    has_left = _present(L["postcode"]) | _present(L["street"]) | _present(L["city"])
    has_right = _present(R["postcode"]) | _present(R["street"]) | _present(R["city"])
    _assign(levels, ~(has_left & has_right), 0)
    same_postcode = _present(L["postcode"]) & (L["postcode"] == R["postcode"])
    same_house = _present(L["house_number"]) & (L["house_number"] == R["house_number"])
    street = _similarity(L["street"], R["street"], fuzz.token_set_ratio) >= 90
    street &= _present(L["street"]) & _present(R["street"])
    _assign(levels, same_postcode & same_house & street, 1)
    _assign(levels, same_postcode & same_house, 2)
    _assign(levels, street & same_house, 3)
    _assign(levels, same_postcode, 4)
    _assign(levels, _present(L["city"]) & (L["city"] == R["city"]), 5)
    _assign(levels, np.ones(n, dtype=bool), 6)
    return levels


def _orders_levels(L: dict, R: dict, share: Mapping[int, float]) -> np.ndarray:
    """By the least common product both customers bought; a product the shop's share table does
    not know (ordered since the fit) counts as rare only if nobody else is known to buy it."""
    levels = np.empty(len(L["products"]), dtype=np.int8)
    for i, (a, b) in enumerate(zip(L["products"], R["products"], strict=True)):
        if not a or not b:
            levels[i] = 0
            continue
        both = a & b
        if not both:
            levels[i] = 4
            continue
        rarest = min(share.get(p, 0.0) for p in both)
        levels[i] = (
            1 if rarest < RARE_PRODUCT_SHARE else 2 if rarest < UNCOMMON_PRODUCT_SHARE else 3
        )
    return levels


def _swapped(L: dict, R: dict) -> np.ndarray:
    """Pairs whose right side wrote first and last name the other way round."""
    straight = (L["first_name"] == R["first_name"]) | (L["last_name"] == R["last_name"])
    crossed = (L["first_name"] == R["last_name"]) & (L["last_name"] == R["first_name"])
    return crossed & ~straight & _present(L["first_name"]) & _present(L["last_name"])


_NAME_COLUMNS = (
    ("first_name", "last_name"),
    ("first_name_german", "last_name_german"),
    ("first_name_skeleton", "last_name_skeleton"),
)


def comparison_levels(
    table: RecordTable, left_pos: np.ndarray, right_pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(levels of shape (pairs, fields), swapped flag per pair) for the pairs at these positions."""
    L = {name: column[left_pos] for name, column in table.columns.items()}
    R = {name: column[right_pos] for name, column in table.columns.items()}
    swapped = _swapped(L, R)
    if swapped.any():  # compare the swapped side's names in the other order
        for first, last in _NAME_COLUMNS:
            R[first], R[last] = (
                np.where(swapped, R[last], R[first]),
                np.where(swapped, R[first], R[last]),
            )
    levels = np.column_stack(
        [
            _email_levels(L, R),
            _phone_levels(L, R),
            _first_name_levels(L, R),
            _last_name_levels(L, R),
            _address_levels(L, R),
            _orders_levels(L, R, table.product_share),
        ]
    )
    return levels, swapped
