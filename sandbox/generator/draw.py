"""Fast draws from `random.Random`: the hot paths run tens of millions of times per big store.

`randrange`/`choice` go through Python-level rejection sampling; scaling `random()` is several
times faster and just as deterministic. Weighted tables keep their cumulative sums.
"""

import random
from bisect import bisect


class Weighted(tuple):
    """((value, weight), ...) with the cumulative weights precomputed for `weighted`."""

    def __new__(cls, pairs):
        table = super().__new__(cls, tuple(pairs))
        table.values = tuple(value for value, _ in table)
        cumulative, total = [], 0
        for _, weight in table:
            total += weight
            cumulative.append(total)
        table.cumulative = cumulative
        table.total = total
        return table


def weighted(rng: random.Random, table) -> str:
    """A value from ((value, weight), ...), proportionally to its weight."""
    if type(table) is not Weighted:
        table = Weighted(table)
    return table.values[bisect(table.cumulative, rng.random() * table.total)]


def below(rng: random.Random, n: int) -> int:
    """0 <= k < n."""
    return int(rng.random() * n)


def between(rng: random.Random, low: int, high: int) -> int:
    """low <= k <= high."""
    return low + int(rng.random() * (high - low + 1))


def pick(rng: random.Random, seq):
    return seq[int(rng.random() * len(seq))]
