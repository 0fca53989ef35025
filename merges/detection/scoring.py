"""Fellegi-Sunter weights for the comparison levels, estimated without labels.

- u (how often a level occurs between two *different* customers) is counted on random pairs;
- m (how often it occurs between two profiles of the *same* person) is counted, for each field, on
  blocked pairs that the *other* fields show to be matches (same email; same phone and name), so no
  labels are needed and the field being estimated did not select its own sample;
- the prior λ, the chance that two random customers are one person, comes from EM with m and u
  fixed (pairs that share no blocking key count as non-matches);
- households: a shared phone or address between two different first names is no evidence;
- term frequencies: an identical first or last name that many customers carry ("smith") earns the
  weight of its own frequency instead of the average identical name's (Splink's TF adjustment).
A pair's weight is log2(λ/(1-λ)) + Σ w(field level); its probability 2^W / (1 + 2^W).
Missing levels weigh exactly 0.
"""

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .compare import (
    FIELD_LEVELS,
    FIELDS,
    MISSING,
    RARE_PRODUCT_SHARE,
    RecordTable,
    comparison_levels,
)

RANDOM_PAIRS = 200_000
EM_ITERATIONS = 25
M_FLOOR = 1e-4
U_FLOOR = 1e-6
# Exact levels whose weight follows the value's frequency: (field, level, column).
TF_LEVELS = (("first_name", 1, "first_name"), ("last_name", 1, "last_name"))
TF_MAX_BONUS = 4.0  # a rare name may add at most this many bits over the average exact match


# Fields that can only add evidence: one person buys different things under two profiles, so
# nothing bought in common is no evidence of two people (the weight is capped at 0).
POSITIVE_ONLY_FIELDS = frozenset({"orders"})
# Name fields whose lesser levels never weigh more than an identical name: a level rare among
# random pairs ("compound surname overlaps": Lorenz / Lorenz-Jäger) earned up to +11.6 bits, twice
# an identical surname, and it escapes the full-name frequency cap that identical names get, so
# namesakes with a double surname scored 0.92-0.96 (fs-4).
CAPPED_BY_IDENTICAL = frozenset({"first_name", "last_name"})


@dataclass
class MatchModel:
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float
    term_frequencies: dict[str, dict[str, float]] = field(default_factory=dict)
    # u of the email levels among *different people with the same name* (EM in that stratum): an
    # address that spells the name looks alike for namesakes, so it must not count twice.
    u_email_same_name: list[float] | None = None

    @classmethod
    def fits_current_levels(cls, data: dict) -> bool:
        """Whether stored parameters were fitted for today's comparison levels."""
        return all(len(data.get("m", {}).get(n, ())) == len(FIELD_LEVELS[n]) for n in FIELDS)

    def level_weights(self) -> np.ndarray:
        """(fields, max levels) table of log2(m/u); missing levels 0."""
        width = max(len(levels) for levels in FIELD_LEVELS.values())
        table = np.zeros((len(FIELDS), width))
        for f, name in enumerate(FIELDS):
            m = np.maximum(np.asarray(self.m[name]), M_FLOOR)
            u = np.maximum(np.asarray(self.u[name]), U_FLOOR)
            table[f, : len(m)] = np.log2(m / u)
            table[f, MISSING] = 0.0
            if name in CAPPED_BY_IDENTICAL:
                table[f, IDENTICAL + 1 :] = np.minimum(
                    table[f, IDENTICAL + 1 :], table[f, IDENTICAL]
                )
            if name in POSITIVE_ONLY_FIELDS:
                table[f] = np.maximum(table[f], 0.0)
        return table

    @property
    def product_share(self) -> dict[int, float]:
        """How common each product is among the shop's ordering customers at the fit (the orders
        comparison needs the whole shop's, also when only a neighbourhood is scored)."""
        return {int(p): share for p, share in self.term_frequencies.get("products", {}).items()}

    @property
    def prior_weight(self) -> float:
        return float(np.log2(self.prior / (1 - self.prior)))

    def to_dict(self) -> dict:
        return {
            "m": self.m,
            "u": self.u,
            "prior": self.prior,
            "tf": self.term_frequencies,
            "u_email_same_name": self.u_email_same_name,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "MatchModel":
        return cls(
            m=data["m"],
            u=data["u"],
            prior=data["prior"],
            term_frequencies=data.get("tf") or {},
            u_email_same_name=data.get("u_email_same_name"),
        )


def _counts(levels: np.ndarray, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    out = {}
    for f, name in enumerate(FIELDS):
        size = len(FIELD_LEVELS[name])
        out[name] = np.bincount(levels[:, f], weights=weights, minlength=size)[:size].astype(float)
    return out


def _normalised(counts: np.ndarray) -> list[float]:
    present = counts.copy()
    present[MISSING] = 0.0
    total = present.sum()
    shares = present / total if total else np.full(len(present), 1.0 / max(1, len(present) - 1))
    shares[MISSING] = 1.0  # unused: missing weighs 0 whatever m and u are
    return shares.tolist()


def estimate_u(
    table: RecordTable, *, pairs: int = RANDOM_PAIRS, seed: int = 0
) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    n = len(table.ids)
    if n < 2:
        return {name: [1.0] * len(levels) for name, levels in FIELD_LEVELS.items()}
    left = rng.integers(0, n, size=pairs)
    right = rng.integers(0, n, size=pairs)
    keep = left != right
    levels, _ = comparison_levels(table, left[keep], right[keep])
    # Add-one smoothing: a level never seen among random pairs is rare, not impossible.
    return {name: _normalised(c + 1.0) for name, c in _counts(levels).items()}


def _initial_m() -> dict[str, list[float]]:
    m = {}
    for name, levels in FIELD_LEVELS.items():
        count = len(levels)
        # Best level most likely for a match, then geometrically less; "different" is rare.
        shares = np.array([0.0] + [0.25**i for i in range(count - 1)])
        shares[-1] = 0.05  # people move, change mailbox and phone: "different" is not rare
        m[name] = _normalised(shares)
    return m


def pair_weights(
    model: MatchModel, levels: np.ndarray, table=None, left_pos=None, right_pos=None
) -> np.ndarray:
    """(pairs, fields) partial weights, term-frequency adjusted when the records are given."""
    weights_table = model.level_weights()
    weights = weights_table[np.arange(len(FIELDS))[None, :], levels]
    if table is not None and model.term_frequencies:
        for name, level, column in TF_LEVELS:
            f = FIELDS.index(name)
            frequencies = model.term_frequencies.get(column) or {}
            u_exact = max(model.u[name][level], U_FLOOR)
            exact = np.flatnonzero(levels[:, f] == level)
            values = table.columns[column][left_pos[exact]]
            tf = np.array([frequencies.get(v, u_exact) for v in values], dtype=float)
            bonus = np.clip(np.log2(u_exact / np.maximum(tf, U_FLOOR)), -TF_MAX_BONUS, TF_MAX_BONUS)
            weights[exact, f] += bonus
        _full_name_frequency(model, levels, weights, table, left_pos)
    if model.u_email_same_name is not None:
        f = FIELDS.index("email")
        rows = np.flatnonzero(surname_agrees(levels))
        m = np.maximum(np.asarray(model.m["email"]), M_FLOOR)
        u = np.maximum(np.asarray(model.u_email_same_name), U_FLOOR)
        conditional = np.log2(m / u)
        conditional[MISSING] = 0.0
        # One mailbox is never two people, namesakes or not: identical keeps its own weight.
        conditional[IDENTICAL] = model.level_weights()[f, IDENTICAL]
        weights[rows, f] = conditional[levels[rows, f]]
    return weights


def full_name_key(first: str, last: str) -> str:
    return "|".join(sorted((first, last)))


def _full_name_frequency(model, levels, weights, table, left_pos) -> None:
    """Identical first *and* last name: weighed by how many customers hold that full name.

    First and last names are not independent (a Polish first name comes with a Polish surname),
    so the product of their separate frequencies makes a rare pair look rarer than it is. The two
    name rows are capped at log2(m_first * m_last / frequency of the full name), shared in
    proportion to what each earned on its own."""
    frequencies = model.term_frequencies.get("full_name")
    if not frequencies:
        return
    f, g = FIELDS.index("first_name"), FIELDS.index("last_name")
    rows = np.flatnonzero((levels[:, f] == 1) & (levels[:, g] == 1))
    if not len(rows):
        return
    floor = frequencies.get("", 0.0) or U_FLOOR  # "" holds 1 / customers: a name held once
    first = table.columns["first_name"][left_pos[rows]]
    last = table.columns["last_name"][left_pos[rows]]
    tf = np.array(
        [frequencies.get(full_name_key(a, b), floor) for a, b in zip(first, last, strict=True)]
    )
    m_first, m_last = max(model.m["first_name"][1], M_FLOOR), max(model.m["last_name"][1], M_FLOOR)
    joint = np.log2(m_first * m_last / np.maximum(tf, U_FLOOR))
    separate = weights[rows, f] + weights[rows, g]
    capped = np.flatnonzero(joint < separate)  # never more than the two names earn apart
    share = weights[rows[capped], f] / np.maximum(separate[capped], 1e-9)
    weights[rows[capped], f] = joint[capped] * share
    weights[rows[capped], g] = joint[capped] * (1 - share)


def same_name(levels: np.ndarray) -> np.ndarray:
    """Pairs whose last names are identical: where the email's u among namesakes is estimated."""
    return levels[:, FIELDS.index("last_name")] == 1


# Surname levels at which that u applies: identical, very similar, a double surname overlapping
# (Gutiérrez / Gutiérrez Giménez), the same sound or a transliteration of it (Zhou / Zhao, He /
# Hu; fs-6). Namesakes' addresses spell their names there too, and a typo on one side hides that
# (carmen.gutierreez89@ / carmengutierrezgimenez@ were "similar local parts, different domain",
# +8.8 bits, chaining namesakes onto true groups until fs-4; yangzhou@ / yagnzhao@ +9.2 bits
# until fs-6).
SURNAME_AGREES = (1, 2, 3, 4)


def surname_agrees(levels: np.ndarray) -> np.ndarray:
    return np.isin(levels[:, FIELDS.index("last_name")], SURNAME_AGREES)


MIN_STRATUM = 50
IDENTICAL = 1


def estimate_u_email_same_name(
    model: MatchModel, levels: np.ndarray, *, iterations: int = EM_ITERATIONS
) -> list[float] | None:
    """u of the email levels given the names agree, by EM on the blocked same-name pairs.

    Inside the stratum the names say nothing more; a pair's match posterior comes from the
    stratum's match share, the phone and address weights, and email's m against the u being
    estimated. Non-matches' email levels, weighted by (1 - posterior), give u.
    """
    f = FIELDS.index("email")
    chosen = same_name(levels) & (levels[:, f] != MISSING)
    if chosen.sum() < MIN_STRATUM:
        return None
    stratum = levels[chosen]
    weights = pair_weights(model, stratum)
    household_adjust(stratum, weights)
    other = np.exp2(
        np.clip(weights[:, [FIELDS.index("phone"), FIELDS.index("address")]].sum(axis=1), -60, 60)
    )
    m = np.maximum(np.asarray(model.m["email"]), M_FLOOR)
    u = np.maximum(np.asarray(model.u["email"]), U_FLOOR)
    share = 0.5
    email = stratum[:, f]
    for _ in range(iterations):
        odds = share / (1 - share) * other * m[email] / u[email]
        posterior = odds / (1 + odds)
        share = float(np.clip(posterior.mean(), 1e-6, 1 - 1e-6))
        counts = np.bincount(email, weights=1 - posterior, minlength=len(m)).astype(float)
        u = np.maximum(np.asarray(_normalised(counts + 0.5)), U_FLOOR)
    return u.tolist()


def probabilities(model: MatchModel, weights: np.ndarray) -> np.ndarray:
    total = model.prior_weight + weights.sum(axis=1)
    return 1.0 / (1.0 + np.exp2(-np.clip(total, -60, 60)))


def term_frequencies(table: RecordTable) -> dict[str, dict[str, float]]:
    """Share of customers holding each first and last name (only names held by two or more)."""
    out = {}
    for _name, _level, column in TF_LEVELS:
        values = [v for v in table.columns[column] if v]
        total = len(values) or 1
        out[column] = {v: c / total for v, c in Counter(values).items() if c > 1}
    pairs = Counter(
        full_name_key(a, b)
        for a, b in zip(table.columns["first_name"], table.columns["last_name"], strict=True)
        if a and b
    )
    total = max(1, len(table.ids))
    out["full_name"] = {v: c / total for v, c in pairs.items() if c > 1}
    out["full_name"][""] = 1 / total
    return out


def _anchors(levels: np.ndarray) -> dict[str, np.ndarray]:
    """Pairs that are matches beyond reasonable doubt by the *other* fields, per field to estimate.

    m of a field is counted on pairs chosen without looking at that field (Splink trains each
    field's m on a blocking rule that does not use it), so the estimate is not biased by the choice.
    """
    email, phone, first, last = (levels[:, FIELDS.index(n)] for n in FIELDS[:4])
    by_email = email == 1
    by_phone_and_name = np.isin(phone, (1, 2)) & (last == 1) & np.isin(first, (1, 2))
    return {name: (by_phone_and_name if name == "email" else by_email) for name in FIELDS}


MIN_ANCHORS = 20


def estimate_m(levels: np.ndarray) -> dict[str, list[float]]:
    m = _initial_m()
    for f, (name, chosen) in enumerate(_anchors(levels).items()):
        counts = np.bincount(levels[chosen, f], minlength=len(FIELD_LEVELS[name])).astype(float)
        if counts[1:].sum() >= MIN_ANCHORS:
            m[name] = _normalised(counts + 0.5)
    return m


def estimate_prior(
    model: MatchModel, levels: np.ndarray, *, customers: int, iterations: int = EM_ITERATIONS
) -> float:
    """λ, the chance that two customers drawn at random are one person, by EM with m and u fixed.

    u comes from random pairs, so λ must too: the expected matches among the blocked pairs
    (unblocked pairs are taken as non-matches) over all n(n-1)/2 pairs of the shop.
    """
    all_pairs = max(1.0, customers * (customers - 1) / 2)
    weights = pair_weights(model, levels)
    household_adjust(levels, weights)
    for _ in range(iterations):
        expected = probabilities(model, weights).sum()
        model.prior = float(np.clip(expected / all_pairs, 1e-12, 0.5))
    return model.prior


HOUSEHOLD_EVIDENCE = ("phone", "address", "orders")
# First-name levels that let a shared contact be a household's: similar, different.
HOUSEHOLD_FIRST_LEVELS = (4, 5, len(FIELD_LEVELS["first_name"]) - 1)


def household_adjust(levels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Two people with different first names who share a phone, an address or purchases are a
    household: living together explains it (one orders for the other), so it is no evidence of
    one person.
    Merely similar first names count as different here (Julie / Julien, Stéphanie / Stéphane live
    together too); identical names, nicknames and one name's other spellings do not.
    Sets those positive weights to 0 and returns which pairs were treated so."""
    first = levels[:, FIELDS.index("first_name")]
    household = np.isin(first, HOUSEHOLD_FIRST_LEVELS)
    for name in HOUSEHOLD_EVIDENCE:
        f = FIELDS.index(name)
        shared = household & (weights[:, f] > 0)
        weights[shared, f] = 0.0
    return household & np.any(
        np.isin(levels[:, [FIELDS.index(n) for n in HOUSEHOLD_EVIDENCE]], (1, 2, 3)), axis=1
    )


def fit(
    table: RecordTable,
    left_pos: np.ndarray,
    right_pos: np.ndarray,
    *,
    seed: int = 0,
    levels: np.ndarray | None = None,
) -> MatchModel:
    """The unsupervised model for one shop: u from random pairs, m and λ by EM on blocked pairs.
    `levels`: the blocked pairs' comparison levels when the caller has them (the full scan
    compares its pairs once for the fit and the scoring)."""
    u = estimate_u(table, seed=seed)
    if levels is None:
        levels, _ = comparison_levels(table, left_pos, right_pos)
    frequencies = term_frequencies(table)
    # Only the products common enough to change a level (an unknown product counts as rare), so
    # the stored model stays small whatever the catalogue; JSON keys are strings.
    frequencies["products"] = {
        str(p): share for p, share in table.product_share.items() if share >= RARE_PRODUCT_SHARE
    }
    model = MatchModel(m=estimate_m(levels), u=u, prior=0.05, term_frequencies=frequencies)
    model.u_email_same_name = estimate_u_email_same_name(model, levels)
    estimate_prior(model, levels, customers=len(table.ids))
    return model


# A profile blocked with both profiles of one person (two profiles scoring at least this) is also
# compared with that person (fs-6): the person has the attributes of both profiles, so a moved
# customer's new profile that shares the old e-mail with one profile and the new address with the
# other is matched on both. Per field the better of the two comparisons counts, CHOICE_BITS less
# where it adds evidence (the better of two comparisons agrees by chance about twice as often as
# one: log2 2 = 1 bit), the worse where neither adds any (a different phone stays against).
# Names are not attributes a person has several of: they take the worse of the two comparisons.
SHARED_PERSON = 0.99
CHOICE_BITS = 1.0
NAME_COLUMNS = [FIELDS.index("first_name"), FIELDS.index("last_name")]


def joint_comparisons(
    prior_weight: float,
    weights: np.ndarray,
    probability: np.ndarray,
    left_pos: np.ndarray,
    right_pos: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, partner positions, joint weights, joint probabilities) of the pairs (c, a) where c is
    also blocked with b, (a, b) scoring at least SHARED_PERSON, and c compared with a and b as one
    person scores higher than with a alone; per pair its best such partner b."""
    fields = weights.shape[1]
    none = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, fields)), np.zeros(0))
    strong = np.flatnonzero(probability >= SHARED_PERSON)
    if not len(strong):
        return none
    left_pos = np.asarray(left_pos, dtype=np.int64)
    right_pos = np.asarray(right_pos, dtype=np.int64)
    pivot, mate = left_pos[strong], right_pos[strong]
    # Only the pairs touching a profile of such a person take part (a fraction of a large shop's).
    people = np.unique(np.concatenate([pivot, mate]))
    near = np.flatnonzero(np.isin(left_pos, people) | np.isin(right_pos, people))
    nodes = int(max(left_pos.max(), right_pos.max())) + 1
    # Both directions of those pairs, sorted by (profile, neighbour) as one integer.
    key = np.concatenate([left_pos[near], right_pos[near]]) * nodes + np.concatenate(
        [right_pos[near], left_pos[near]]
    )
    row = np.concatenate([near, near])
    order = np.argsort(key)
    key, row = key[order], row[order]
    starts = np.searchsorted(key, np.arange(nodes + 1, dtype=np.int64) * nodes)
    # Every neighbour c of a, kept where c is blocked with b too.
    first, degree = starts[pivot], starts[pivot + 1] - starts[pivot]
    which = np.repeat(np.arange(len(pivot)), degree)
    slot = first[which] + np.arange(degree.sum()) - np.repeat(np.cumsum(degree) - degree, degree)
    c, b = key[slot] % nodes, mate[which]
    look = b * nodes + c
    at = np.minimum(np.searchsorted(key, look), len(key) - 1)
    hit = (key[at] == look) & (c != b)
    with_a, with_b = row[slot[hit]], row[at[hit]]
    if not len(with_a):
        return none
    a, b = pivot[which[hit]], b[hit]
    x, y = weights[with_a], weights[with_b]
    best, worst = np.maximum(x, y), np.minimum(x, y)
    joint = np.where(best > 0, np.maximum(best - CHOICE_BITS, 0.0), worst)
    # A person has one name: it must agree with both profiles' (Daniela is not the person whose
    # profiles read "Daniel" and "D.", whatever the initial says).
    joint[:, NAME_COLUMNS] = worst[:, NAME_COLUMNS]
    joint_p = 1.0 / (1.0 + np.exp2(-np.clip(prior_weight + joint.sum(axis=1), -60, 60)))
    rows, partners = np.concatenate([with_a, with_b]), np.concatenate([b, a])
    joint, joint_p = np.concatenate([joint, joint]), np.concatenate([joint_p, joint_p])
    order = np.lexsort((joint_p, rows))  # by pair, its best partner last
    rows, partners, joint, joint_p = rows[order], partners[order], joint[order], joint_p[order]
    best_of_pair = np.r_[rows[1:] != rows[:-1], True]
    rows, partners = rows[best_of_pair], partners[best_of_pair]
    joint, joint_p = joint[best_of_pair], joint_p[best_of_pair]
    higher = joint_p > probability[rows]
    return rows[higher], partners[higher], joint[higher], joint_p[higher]


@dataclass
class ScoredPairs:
    levels: np.ndarray  # (pairs, fields) level index
    weights: np.ndarray  # (pairs, fields) signed partial weights, household- and TF-adjusted
    probability: np.ndarray  # the pair's own, or its joint comparison's where higher (fs-6)
    swapped: np.ndarray  # names compared the other way round
    household: np.ndarray  # shared phone/address discounted: different first names
    # The joint comparisons that raised a pair: row -> (the partner's customer id, joint weights).
    joint: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)


def score_pairs(
    model: MatchModel,
    table: RecordTable,
    left_pos: np.ndarray,
    right_pos: np.ndarray,
    *,
    compared: tuple[np.ndarray, np.ndarray] | None = None,
) -> ScoredPairs:
    """`compared`: (levels, swapped) of these pairs from `comparison_levels`, when already known."""
    levels, swapped = compared or comparison_levels(table, left_pos, right_pos)
    weights = pair_weights(model, levels, table, left_pos, right_pos)
    household = household_adjust(levels, weights)
    probability = probabilities(model, weights)
    rows, partners, joint, joint_p = joint_comparisons(
        model.prior_weight, weights, probability, left_pos, right_pos
    )
    probability[rows] = joint_p
    partner_ids = table.ids[partners].tolist()
    raised = dict(zip(rows.tolist(), zip(partner_ids, joint, strict=True), strict=True))
    return ScoredPairs(levels, weights, probability, swapped, household, raised)


def waterfall(
    model: MatchModel,
    scored: ScoredPairs,
    index: int,
    *,
    left: dict[str, str],
    right: dict[str, str],
) -> dict:
    """The reviewer's explanation of one pair: the prior, then per field the two raw values, the
    level and its signed weight; the total and the probability; notes on swaps and households."""
    rows = [{"field": "prior", "weight": round(model.prior_weight, 2)}]
    for f, name in enumerate(FIELDS):
        level = int(scored.levels[index, f])
        rows.append(
            {
                "field": name,
                "left": left.get(name, ""),
                "right": right.get(name, ""),
                "level": FIELD_LEVELS[name][level],
                "weight": round(float(scored.weights[index, f]), 2),
            }
        )
    notes = []
    if scored.swapped[index]:
        notes.append("first and last name are swapped on one side; compared crosswise")
    if scored.household[index]:
        notes.append(
            "likely a household: they share a phone, an address or purchases but have different"
            " first names, so what they share counts as no evidence"
        )
    email = int(scored.levels[index, FIELDS.index("email")])
    if (
        model.u_email_same_name is not None
        and email > IDENTICAL
        and surname_agrees(scored.levels[index : index + 1])
    ):
        notes.append(
            "same surname (or a similar or double one): the e-mail addresses are weighed by how"
            " often people sharing a surname have such addresses (an address that spells the name"
            " is no extra evidence)"
        )
    explanation = {
        "rows": rows,
        "total_weight": round(model.prior_weight + float(scored.weights[index].sum()), 2),
        "probability": float(scored.probability[index]),
        "notes": notes,
    }
    if index in scored.joint:
        partner, joint = scored.joint[index]
        explanation["joint"] = {
            "with": partner,
            "weights": {name: round(float(joint[f]), 2) for f, name in enumerate(FIELDS)},
            "total_weight": round(model.prior_weight + float(joint.sum()), 2),
        }
        notes.append(
            f"also compared together with customer {partner}, the same person as one of these two"
            f" profiles (>= {SHARED_PERSON}): per field the better of the two comparisons,"
            f" {CHOICE_BITS:g} bit less where it adds evidence; the probability is that joint"
            " comparison's"
        )
    return explanation
