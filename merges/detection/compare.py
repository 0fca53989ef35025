"""Comparison levels per field, computed in bulk for many pairs (reference/matching.md 4.3).

Each field has ordered levels, first match wins; level 0 is always "missing on one side" and carries
no weight, so missing data is never evidence against. String similarities come from rapidfuzz's
`process.cpdist`, one call per field and scorer for all pairs at once.
"""

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler

from .normalize import MatchFields, mail_provider, name_skeleton

FIELD_LEVELS: dict[str, tuple[str, ...]] = {
    "email": (
        "missing on one side",
        "identical (after gmail and provider-typo rules)",
        "same local part at the same provider (another domain ending or sister brand)",
        "same local part at another domain, or with other dots",
        "same local part: the name with the same number, at another domain or with other dots",
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
    _filled: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _order: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        records: Sequence[MatchFields],
        products: Mapping[int, Collection[int]] | None = None,
        product_share: Mapping[int, float] | None = None,
    ) -> "RecordTable":
        """`products`: the product ids each customer ordered, each customer's distinct (customers
        without orders may be left out); `product_share`: how common each product is in the whole shop (the fitted
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
        # The local part without dots: gmail ignores them (and normalize.email_parts stores gmail's
        # local part without them), and people add or drop one at another provider.
        columns["email_local_bare"] = np.array(
            [r.email_local.replace(".", "") for r in records], dtype=object
        )
        columns["email_has_number"] = np.array(
            [any(ch.isdigit() for ch in r.email_local) for r in records], dtype=bool
        )
        products = products or {}
        # As the caller holds them (a full scan's order history: tuples, ~6x smaller than
        # frozensets; selectors.purchased_products).
        columns["products"] = np.fromiter(
            (products.get(r.customer_id, ()) for r in records), dtype=object, count=len(records)
        )
        if product_share is None:
            product_share = product_shares(columns["products"])
        return cls(
            ids=np.array([r.customer_id for r in records], dtype=np.int64),
            columns=columns,
            product_share=dict(product_share),
        )

    def filled(self, name: str) -> np.ndarray:
        """Whether each record's value of this column is non-empty (computed once)."""
        if name not in self._filled:
            self._filled[name] = self.columns[name].astype(bool)
        return self._filled[name]

    def positions(self, customer_ids: np.ndarray) -> np.ndarray:
        if self._order is None:  # sorted once (a full scan looks up its pairs several times)
            self._order = np.argsort(self.ids)
        return self._order[np.searchsorted(self.ids, customer_ids, sorter=self._order)]


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


# Below this many pairs a thread pool costs more than it saves (~5 ms a call on a busy machine,
# eight calls per scoring: the incremental check of one customer scores a handful of pairs).
PARALLEL_MIN_PAIRS = 10_000


def _similarity(left: np.ndarray, right: np.ndarray, scorer) -> np.ndarray:
    workers = -1 if len(left) >= PARALLEL_MIN_PAIRS else 1
    return process.cpdist(list(left), list(right), scorer=scorer, workers=workers)


# The right side's name columns read crosswise where a pair's names are swapped.
_CROSSWISE = {
    "first_name": "last_name",
    "last_name": "first_name",
    "first_name_german": "last_name_german",
    "last_name_german": "first_name_german",
    "first_name_skeleton": "last_name_skeleton",
    "last_name_skeleton": "first_name_skeleton",
}


class _Pairs:
    """The pairs being compared, by table position: a column's values (or whether it is
    filled) on both sides of some of the pairs, gathered when a level needs them. A level is
    decided on the pairs no better level took, so most conditions are computed on few pairs."""

    def __init__(self, table: "RecordTable", left: np.ndarray, right: np.ndarray) -> None:
        self.table, self.left, self.right = table, left, right
        self.count = len(left)
        self.swapped = np.zeros(self.count, dtype=bool)

    def _gather(self, name: str, rows: np.ndarray, column_of) -> tuple[np.ndarray, np.ndarray]:
        column = column_of(name)
        left, right = column[self.left[rows]], column[self.right[rows]]
        other = _CROSSWISE.get(name)
        if other is not None and self.swapped.any():
            crossed = self.swapped[rows]
            if crossed.any():
                right = np.where(crossed, column_of(other)[self.right[rows]], right)
        return left, right

    def values(self, name: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._gather(name, rows, self.table.columns.__getitem__)

    def filled(self, name: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each side's value is non-empty."""
        return self._gather(name, rows, self.table.filled)

    def same(self, name: str, rows: np.ndarray) -> np.ndarray:
        left, right = self.values(name, rows)
        return left == right


class _Ladder:
    """One field's levels: each pair takes the first level whose condition holds."""

    def __init__(self, count: int) -> None:
        self.levels = np.full(count, -1, dtype=np.int8)

    @classmethod
    def started(cls, P: "_Pairs", name: str, identical: str | None = None) -> "_Ladder":
        """Levels with level 0 ("missing on one side") taken where either side's `name` is
        empty, and level 1 where the two `identical` values are equal (if given)."""
        ladder = cls(P.count)
        rows = ladder.open()
        left, right = P.filled(name, rows)
        ladder.take(rows, ~(left & right), 0)
        if identical is not None:
            rows = ladder.open()
            ladder.take(rows, P.same(identical, rows), 1)
        return ladder

    def open(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The pairs (of `rows`, else all) no level took yet."""
        if rows is None:
            return np.flatnonzero(self.levels == -1)
        return rows[self.levels[rows] == -1]

    def take(self, rows: np.ndarray, condition: np.ndarray | bool, level: int) -> None:
        """Set `level` on those of `rows` where `condition` holds and no earlier level was set."""
        chosen = rows[condition] if isinstance(condition, np.ndarray) else rows
        self.levels[chosen[self.levels[chosen] == -1]] = level


def _email_levels(P: _Pairs) -> np.ndarray:
    ladder = _Ladder.started(P, "email_local", identical="email_canonical")
    rows = ladder.open()
    from_name_left, from_name_right = P.values("email_from_name", rows)
    both_names = from_name_left & from_name_right
    same_local = P.same("email_local", rows)
    local = rows[same_local]
    ladder.take(local, P.same("email_provider", local), 2)
    ladder.take(local, ~both_names[same_local], 3)
    # anna.mueller49 at two providers: namesakes rarely also share the number (a birth year).
    ladder.take(local, P.values("email_has_number", local)[0], 4)
    ladder.take(local, True, 5)
    # frank.berger97@aon.at / frankberger97@gmail.com: the same local part once dots are ignored
    # on both sides (fs-6; gmail's is stored without them). Only where that is more than the
    # name: another local part, or the name with the same number; two spellings of a bare name
    # (anna.schmid / annaschmid) are what namesakes choose too, so they stay "only spell the
    # name, differently".
    dotless = ~same_local & P.same("email_local_bare", rows)
    dotted = rows[dotless]
    ladder.take(dotted, ~both_names[dotless], 3)
    ladder.take(dotted, P.values("email_has_number", dotted)[0], 4)
    # Two namesakes' addresses look alike because both spell the name: below "one edit apart",
    # only a similar local part at the same provider is told apart from one elsewhere.
    rows = rows[~same_local & ~both_names]
    same_domain = P.same("email_domain", rows)
    left, right = P.values("email_local", rows)
    ladder.take(rows, same_domain & (_similarity(left, right, OSA.distance) <= 1), 6)
    rows = ladder.open(rows)
    left, right = P.values("email_local", rows)
    similar = _similarity(left, right, JaroWinkler.similarity) >= 0.88
    ladder.take(rows, similar & P.same("email_domain", rows), 7)
    ladder.take(rows, similar, 8)
    rows = ladder.open()
    left, right = P.values("email_from_name", rows)
    ladder.take(rows, left & right, 9)
    ladder.take(ladder.open(), True, 10)
    return ladder.levels


def _phone_levels(P: _Pairs) -> np.ndarray:
    ladder = _Ladder(P.count)
    rows = ladder.open()
    phone_left, phone_right = P.filled("phone", rows)
    last9_left, last9_right = P.filled("phone_last9", rows)
    ladder.take(rows, ~((phone_left | last9_left) & (phone_right | last9_right)), 0)
    ladder.take(rows, phone_left & P.same("phone", rows), 1)
    rows = ladder.open(rows[last9_left & last9_right])  # only the last 9 digits are compared
    ladder.take(rows, P.same("phone_last9", rows), 2)
    rows = ladder.open(rows)
    left, right = P.values("phone_last9", rows)
    # One digit wrong or two swapped: OSA allows both (a Levenshtein distance of 1 is one too).
    ladder.take(rows, _similarity(left, right, OSA.distance) <= 1, 3)
    ladder.take(ladder.open(), True, 4)
    return ladder.levels


_VOWELS = frozenset("aeiou")


def _one_vowel_more(short: str, long: str) -> bool:
    """'stephane' / 'stephanie', 'rene' / 'renee': the longer is the shorter plus one vowel at
    its end (Mahmud / Mahmoud, Ksenia / Kseniya are spellings, not another person's name)."""
    if len(long) != len(short) + 1:
        return False
    i = next((i for i, (a, b) in enumerate(zip(short, long, strict=False)) if a != b), len(short))
    return i >= len(short) - 1 and long[i] in _VOWELS and long[:i] + long[i + 1 :] == short


def _gendered_forms(P: _Pairs, rows: np.ndarray) -> np.ndarray:
    """One name's male and female forms: the same consonant skeleton with another last letter
    (see normalize.name_skeleton), or one vowel more (Stéphane / Stéphanie, René / Renée)."""
    skeleton_left, skeleton_right = P.values("first_name_skeleton", rows)
    first_left, first_right = P.values("first_name", rows)
    lengths = _lengths(skeleton_left), _lengths(skeleton_right)
    filled = (lengths[0] > 0) & (lengths[1] > 0)
    found = np.zeros(len(rows), dtype=bool)
    same = np.flatnonzero(filled & (lengths[0] == lengths[1]))  # another last letter?
    if len(same):
        left, right = skeleton_left[same], skeleton_right[same]
        found[same] = (_cut(left, slice(None, -1)) == _cut(right, slice(None, -1))) & (
            _cut(left, slice(-1, None)) != _cut(right, slice(-1, None))
        )
    longer = np.abs(_lengths(first_left) - _lengths(first_right)) == 1  # one vowel more?
    for i in np.flatnonzero(filled & longer & ~found).tolist():
        x, y = first_left[i], first_right[i]
        found[i] = _one_vowel_more(x, y) or _one_vowel_more(y, x)
    return found


def _lengths(values: np.ndarray) -> np.ndarray:
    return np.fromiter(map(len, values), dtype=np.int64, count=len(values))


def _cut(values: np.ndarray, part: slice) -> np.ndarray:
    return np.array([v[part] for v in values], dtype=object)


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


def _first_name_levels(P: _Pairs) -> np.ndarray:
    ladder = _Ladder.started(P, "first_name", identical="first_name")
    rows = ladder.open()
    left, right = P.values("first_formal", rows)
    nick = np.fromiter(
        (bool(a & b) for a, b in zip(left, right, strict=True)), dtype=bool, count=len(rows)
    )
    ladder.take(rows, nick, 2)
    rows = ladder.open(rows)
    # Daniel / Daniela, Maria / Mario, Jan / Jana: one name's male and female forms (Jaro-Winkler
    # 0.92-0.98) are two people, typically partners or siblings sharing an address.
    german = P.same("first_name_german", rows)  # Jörg / Joerg is one name
    ladder.take(rows[~german], _gendered_forms(P, rows[~german]), 7)
    ladder.take(rows, german, 3)
    rows = ladder.open(rows)
    skeleton = P.filled("first_name_skeleton", rows)[0] & P.same("first_name_skeleton", rows)
    spelling = rows[skeleton]
    ladder.take(spelling, _share_a_vowel(*P.values("first_name", spelling)), 3)
    rows = ladder.open(rows)
    left, right = P.values("first_name", rows)
    similarity = _similarity(left, right, JaroWinkler.similarity)
    ladder.take(rows, similarity >= 0.92, 4)
    ladder.take(rows, similarity >= 0.88, 5)
    rows = ladder.open(rows)
    left, right = P.values("first_name", rows)
    initial = np.fromiter(
        ((len(a) == 1 or len(b) == 1) and a[:1] == b[:1] for a, b in zip(left, right, strict=True)),
        dtype=bool,
        count=len(rows),
    )
    ladder.take(rows, initial, 6)
    ladder.take(ladder.open(), True, 7)
    return ladder.levels


def _last_name_levels(P: _Pairs) -> np.ndarray:
    ladder = _Ladder.started(P, "last_name")
    rows = ladder.open()
    ladder.take(rows, P.same("last_name", rows) | P.same("last_name_german", rows), 1)
    rows = ladder.open()
    left, right = P.values("last_name", rows)
    ladder.take(rows, _similarity(left, right, JaroWinkler.similarity) >= 0.92, 2)
    rows = ladder.open(rows)
    left, right = P.values("last_name", rows)
    glued = np.array([v.replace(" ", "") for v in left], dtype=object) == np.array(
        [v.replace(" ", "") for v in right], dtype=object
    )
    compound = glued | (_similarity(left, right, fuzz.token_set_ratio) >= 90)
    ladder.take(rows, compound, 3)
    rows = ladder.open(rows)
    sound = P.filled("surname_phonetic", rows)[0] & P.same("surname_phonetic", rows)
    sound |= P.filled("last_name_skeleton", rows)[0] & P.same("last_name_skeleton", rows)
    ladder.take(rows, sound, 4)
    ladder.take(ladder.open(), True, 5)
    return ladder.levels


def _address_levels(P: _Pairs) -> np.ndarray:
    ladder = _Ladder(P.count)
    rows = ladder.open()
    has = [P.filled(name, rows) for name in ("postcode", "street", "city")]
    has_left = has[0][0] | has[1][0] | has[2][0]
    has_right = has[0][1] | has[1][1] | has[2][1]
    ladder.take(rows, ~(has_left & has_right), 0)
    rows = ladder.open()
    same_postcode = P.filled("postcode", rows)[0] & P.same("postcode", rows)
    same_house = P.filled("house_number", rows)[0] & P.same("house_number", rows)
    # The streets are compared only where the house number is the same (levels 1 and 3).
    house = rows[same_house]
    street_left, street_right = P.filled("street", house)
    left, right = P.values("street", house)
    street = (_similarity(left, right, fuzz.token_set_ratio) >= 90) & street_left & street_right
    ladder.take(house, same_postcode[same_house] & street, 1)
    ladder.take(rows, same_postcode & same_house, 2)
    ladder.take(house, street, 3)
    ladder.take(rows, same_postcode, 4)
    rows = ladder.open()
    ladder.take(rows, P.filled("city", rows)[0] & P.same("city", rows), 5)
    ladder.take(ladder.open(), True, 6)
    return ladder.levels


def _orders_levels(P: _Pairs, share: Mapping[int, float]) -> np.ndarray:
    """By the least common product both customers bought; a product the shop's share table does
    not know (ordered since the fit) counts as rare only if nobody else is known to buy it."""
    levels = np.zeros(P.count, dtype=np.int8)
    left, right = P.filled("products", np.arange(P.count))
    rows = np.flatnonzero(left & right)
    known = share.get
    for i, a, b in zip(rows.tolist(), *P.values("products", rows), strict=True):
        both = set(a).intersection(b)
        if not both:
            levels[i] = 4
            continue
        rarest = min(map(known, both, repeat(0.0)))
        levels[i] = (
            1 if rarest < RARE_PRODUCT_SHARE else 2 if rarest < UNCOMMON_PRODUCT_SHARE else 3
        )
    return levels


def _swapped(P: _Pairs) -> np.ndarray:
    """Pairs whose right side wrote first and last name the other way round."""
    rows = np.arange(P.count)
    first_left, first_right = P.values("first_name", rows)
    last_left, last_right = P.values("last_name", rows)
    straight = (first_left == first_right) | (last_left == last_right)
    crossed = (first_left == last_right) & (last_left == first_right)
    filled = P.table.filled("first_name")[P.left] & P.table.filled("last_name")[P.left]
    return crossed & ~straight & filled


def comparison_levels(
    table: RecordTable, left_pos: np.ndarray, right_pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(levels of shape (pairs, fields), swapped flag per pair) for the pairs at these positions."""
    P = _Pairs(table, np.asarray(left_pos), np.asarray(right_pos))
    swapped = _swapped(P)
    P.swapped = swapped  # from here the swapped side's names are compared in the other order
    levels = np.column_stack(
        [
            _email_levels(P),
            _phone_levels(P),
            _first_name_levels(P),
            _last_name_levels(P),
            _address_levels(P),
            _orders_levels(P, table.product_share),
        ]
    )
    return levels, swapped
