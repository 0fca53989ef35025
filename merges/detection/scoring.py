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

from .compare import FIELD_LEVELS, FIELDS, MISSING, RecordTable, comparison_levels

RANDOM_PAIRS = 200_000
EM_ITERATIONS = 25
M_FLOOR = 1e-4
U_FLOOR = 1e-6
# Exact levels whose weight follows the value's frequency: (field, level, column).
TF_LEVELS = (("first_name", 1, "first_name"), ("last_name", 1, "last_name"))
TF_MAX_BONUS = 4.0  # a rare name may add at most this many bits over the average exact match


@dataclass
class MatchModel:
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float
    term_frequencies: dict[str, dict[str, float]] = field(default_factory=dict)

    def level_weights(self) -> np.ndarray:
        """(fields, max levels) table of log2(m/u); missing levels 0."""
        width = max(len(levels) for levels in FIELD_LEVELS.values())
        table = np.zeros((len(FIELDS), width))
        for f, name in enumerate(FIELDS):
            m = np.maximum(np.asarray(self.m[name]), M_FLOOR)
            u = np.maximum(np.asarray(self.u[name]), U_FLOOR)
            table[f, : len(m)] = np.log2(m / u)
            table[f, MISSING] = 0.0
        return table

    @property
    def prior_weight(self) -> float:
        return float(np.log2(self.prior / (1 - self.prior)))

    def to_dict(self) -> dict:
        return {"m": self.m, "u": self.u, "prior": self.prior, "tf": self.term_frequencies}

    @classmethod
    def from_dict(cls, data: dict) -> "MatchModel":
        return cls(
            m=data["m"], u=data["u"], prior=data["prior"], term_frequencies=data.get("tf") or {}
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
        shares[-1] = 0.005
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
    return weights


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


HOUSEHOLD_EVIDENCE = ("phone", "address")


def household_adjust(levels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Two people with different first names who share a phone or an address are a household:
    the shared contact is explained by living together, so it is no evidence of one person.
    Sets those positive weights to 0 and returns which pairs were treated so."""
    first = levels[:, FIELDS.index("first_name")]
    household = first == len(FIELD_LEVELS["first_name"]) - 1  # "different"
    for name in HOUSEHOLD_EVIDENCE:
        f = FIELDS.index(name)
        shared = household & (weights[:, f] > 0)
        weights[shared, f] = 0.0
    return household & np.any(
        np.isin(levels[:, [FIELDS.index(n) for n in HOUSEHOLD_EVIDENCE]], (1, 2, 3)), axis=1
    )


def fit(
    table: RecordTable, left_pos: np.ndarray, right_pos: np.ndarray, *, seed: int = 0
) -> MatchModel:
    """The unsupervised model for one shop: u from random pairs, m and λ by EM on blocked pairs."""
    u = estimate_u(table, seed=seed)
    levels, _ = comparison_levels(table, left_pos, right_pos)
    model = MatchModel(
        m=estimate_m(levels), u=u, prior=0.05, term_frequencies=term_frequencies(table)
    )
    estimate_prior(model, levels, customers=len(table.ids))
    return model


@dataclass
class ScoredPairs:
    levels: np.ndarray  # (pairs, fields) level index
    weights: np.ndarray  # (pairs, fields) signed partial weights, household- and TF-adjusted
    probability: np.ndarray
    swapped: np.ndarray  # names compared the other way round
    household: np.ndarray  # shared phone/address discounted: different first names


def score_pairs(
    model: MatchModel, table: RecordTable, left_pos: np.ndarray, right_pos: np.ndarray
) -> ScoredPairs:
    levels, swapped = comparison_levels(table, left_pos, right_pos)
    weights = pair_weights(model, levels, table, left_pos, right_pos)
    household = household_adjust(levels, weights)
    return ScoredPairs(levels, weights, probabilities(model, weights), swapped, household)


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
            "likely a household: they share a phone or address but have different first names,"
            " so the shared contact counts as no evidence"
        )
    return {
        "rows": rows,
        "total_weight": round(model.prior_weight + float(scored.weights[index].sum()), 2),
        "probability": float(scored.probability[index]),
        "notes": notes,
    }
