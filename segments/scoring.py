"""RFM groups and predicted spend tiers computed per store from the mirror.

Shopify computes both for its own admin, but the mirror does not get `rfmGroup`, and
`predictedSpendTier` is missing on many customers. Method (documented in
docs/segment-language.md, "RFM group and spend tier"):

1. Among the store's live customers with at least one order, R, F and M are scored 1..5 by
   store-relative quintile: score = 1 + floor(5 * percent_rank), capped at 5 (ties share a score),
   where R ranks the last order date (recent = high), F the number of orders, M the amount spent.
   The ranks are window functions evaluated in the database.
2. FM = (F + M) / 2 rounded half up; the group comes from the R x FM grid below (Shopify's RFM
   report chooses the group from R and FM the same way; the cut-offs are ours).
3. Customers without orders are PROSPECTS, with no scores and no tier.
4. Spend tier: HIGH when the amount spent ranks in the top 30 % and R >= 3; LOW when it ranks in
   the bottom 10 % or R = 1; MEDIUM otherwise.
"""

from decimal import ROUND_HALF_UP, Decimal

#: GROUP_GRID[r][fm] for r, fm in 1..5 (index 0 unused).
_ROWS = {
    5: ["NEW", "ACTIVE", "ACTIVE", "CHAMPIONS", "CHAMPIONS"],
    4: ["PROMISING", "ACTIVE", "ACTIVE", "LOYAL", "CHAMPIONS"],
    3: ["ALMOST_LOST", "ALMOST_LOST", "NEEDS_ATTENTION", "LOYAL", "LOYAL"],
    2: ["DORMANT", "DORMANT", "AT_RISK", "AT_RISK", "PREVIOUSLY_LOYAL"],
    1: ["DORMANT", "DORMANT", "AT_RISK", "AT_RISK", "PREVIOUSLY_LOYAL"],
}


def quintile_score(percent_rank: float) -> int:
    return min(5, 1 + int(Decimal(str(percent_rank)) * 5))


def fm_score(frequency: int, monetary: int) -> int:
    return int((Decimal(frequency + monetary) / 2).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rfm_group(recency: int, frequency: int, monetary: int) -> str:
    return _ROWS[recency][fm_score(frequency, monetary) - 1]


def spend_tier(*, monetary_rank: float, recency: int) -> str:
    if monetary_rank >= 0.7 and recency >= 3:
        return "HIGH"
    if monetary_rank < 0.1 or recency == 1:
        return "LOW"
    return "MEDIUM"
