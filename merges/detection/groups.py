"""Candidate groups from scored pairs, guarded against chaining (reference/matching.md 4.5).

1. Edges are pairs at or above the review threshold that no cannot-link veto forbids (a reviewer
   dismissed the pair; or both have phone numbers, emails and surnames and all three differ).
2. Connected components; inside a component of three or more, bridges (an edge whose removal splits
   it) below BRIDGE_THRESHOLD are cut: one weak link must not chain two people together.
3. A suggested survivor is chosen by rule; every other member must link to it directly or to at
   least half of the other members, otherwise it leaves the group (and may form its own).
4. Strong cores held together by weak links are split: two or more cores of members joined at
   the high threshold stay one group only if, on average over *all* their cross pairs (a pair
   scored below the review threshold counts its probability, a pair never compared 0), they
   link at the review threshold. Two people with two profiles each (Elisabeth Busch-Bergmann's
   and Elisabeth Bergmann's) are joined by a couple of namesake links, not by every pair.
5. Groups larger than MAX_GROUP_SIZE are flagged for a mandatory split review.
Shopify merge blockers known from the mirror are attached with a remediation hint; a group with a
blocker is not offered for merging until they are resolved.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

# Pairs below it form no group. 0.75 (fs-6; 0.66 in fs-5, 0.55 until fs-4): the namesakes' false
# pairs score 0.55-0.9 where most true pairs score above 0.99, and at 0.75 with the bridge rule
# below, fs-6's dotless local parts and joint comparisons (scoring.joint_comparisons) recall
# stays at the target on the benchmark stores (docs/benchmarks-dedupe.md, the trade-off curve).
REVIEW_THRESHOLD = 0.75
HIGH_THRESHOLD = 0.99
MEDIUM_THRESHOLD = 0.95
MAX_GROUP_SIZE = 5
# A bridge below it is weak and cut. At the high threshold (fs-4) it cut a person's third profile
# that links to one other profile only, at 0.9-0.99 (a typo'd address at another provider, a
# moved home): 0.003 recall on the benchmark stores, bought back here (docs/benchmarks-dedupe.md).
BRIDGE_THRESHOLD = 0.9

BLOCKER_HINTS = {
    "GIFT_CARDS": "Gift cards are tied to this profile: use or move them first.",
    "STORE_CREDIT": "Store credit is tied to this profile: spend or transfer it first.",
    "SUBSCRIPTIONS": "Active subscription contracts: cancel or move them to the survivor first.",
    "COMPANY_CONTACT": "A B2B company contact cannot be merged: remove it from the company first.",
    "CUSTOMER_PAYMENT_METHODS": "Saved payment methods: ask the customer to remove them first.",
    "PENDING_DATA_REQUEST": "A privacy data request is pending: wait until it is completed.",
    "MULTIPASS_IDENTIFIER": "Multipass login identifier set: clear it in the identity provider first.",
    "MERGE_IN_PROGRESS": "Shopify is already merging this profile: wait and re-scan.",
    "REDACTED_AT": "The customer was redacted: it cannot be merged.",
    "DELETED_AT": "The customer was deleted: it cannot be merged.",
}
DEFAULT_HINT = "Shopify reports this profile as not mergeable: check it in the Shopify admin."


@dataclass(frozen=True)
class Member:
    """What the survivor rule and the blocker check need to know about a customer."""

    customer_id: int
    enabled: bool = False
    orders: int = 0
    verified_email: bool = False
    created_at: datetime | None = None
    is_mergeable: bool | None = None
    merge_blockers: tuple[str, ...] = ()


@dataclass
class Group:
    members: list[int]
    survivor: int
    survivor_reason: str
    probability: float  # the weakest kept link between a member and the group
    edges: dict[tuple[int, int], float]
    needs_split: bool = False
    blockers: list[dict] = field(default_factory=list)

    @property
    def mergeable(self) -> bool:
        return not self.blockers


def _components(nodes: Iterable[int], edges: dict[tuple[int, int], float]) -> list[list[int]]:
    parent = {n: n for n in nodes}

    def find(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = defaultdict(list)
    for n in parent:
        groups[find(n)].append(n)
    return [sorted(g) for g in groups.values()]


def _bridges(nodes: Sequence[int], edges: dict[tuple[int, int], float]) -> set[tuple[int, int]]:
    """Tarjan's bridge finding (iterative), edges as (small id, large id)."""
    adjacency: dict[int, list[int]] = defaultdict(list)
    for a, b in edges:
        adjacency[a].append(b)
        adjacency[b].append(a)
    order: dict[int, int] = {}
    low: dict[int, int] = {}
    found: set[tuple[int, int]] = set()
    for root in nodes:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack = [(root, None, iter(adjacency[root]))]
        while stack:
            node, parent, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if parent is not None:
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent]:
                        found.add((min(parent, node), max(parent, node)))
                continue
            if child == parent:
                continue
            if child in order:
                low[node] = min(low[node], order[child])
            else:
                order[child] = low[child] = len(order)
                stack.append((child, node, iter(adjacency[child])))
    return found


def suggest_survivor(members: Sequence[Member]) -> tuple[int, str]:
    """The profile to keep: enabled account, then most orders, verified email, oldest, lowest id."""
    oldest = datetime.max.replace(tzinfo=None)

    def rank(m: Member):
        created = m.created_at.replace(tzinfo=None) if m.created_at else oldest
        return (not m.enabled, -m.orders, not m.verified_email, created, m.customer_id)

    ordered = sorted(members, key=rank)
    best, runner_up = ordered[0], ordered[1] if len(ordered) > 1 else None
    if runner_up is None:
        return best.customer_id, "only member"
    if best.enabled and not runner_up.enabled:
        reason = "the only member with an enabled customer account"
    elif best.orders != runner_up.orders:
        reason = f"most orders ({best.orders})"
    elif best.verified_email and not runner_up.verified_email:
        reason = "verified email address"
    elif best.created_at and best.created_at != runner_up.created_at:
        reason = "oldest profile"
    else:
        reason = "lowest id (the members are otherwise equal)"
    return best.customer_id, reason


def _density_guard(
    members: list[int], survivor: int, adjacency: dict[int, dict[int, float]]
) -> tuple[list[int], list[int]]:
    """(kept, dropped): a member stays if it links to the survivor or to half the others."""
    kept = list(members)
    while True:
        others = len(kept) - 1
        present = set(kept)
        dropped = [
            m
            for m in kept
            if m != survivor
            and survivor not in adjacency[m]
            and len(present.intersection(adjacency[m])) * 2 < others
        ]
        if not dropped:
            return kept, [m for m in members if m not in present]
        kept = [m for m in kept if m not in dropped]


def _cannot_link_split(
    kept: list[int], survivor: int, adjacency: dict, vetoed: dict[int, set[int]]
) -> int | None:
    """A member to take out because the group holds a vetoed pair (reached through others): of the
    pair, the one that is not the survivor and links more weakly to it."""
    for i, a in enumerate(kept):
        partners = vetoed.get(a)
        if not partners:
            continue
        for b in kept[i + 1 :]:
            if b in partners:
                if survivor in (a, b):
                    return b if a == survivor else a
                link = lambda m: adjacency[m].get(survivor, 0.0)  # noqa: E731
                return a if link(a) <= link(b) else b
    return None


def _weak_cores(
    kept: list[int],
    adjacency: dict[int, dict[int, float]],
    linkage: Mapping[tuple[int, int], float],
    *,
    core_threshold: float,
    review_threshold: float,
) -> list[list[int]] | None:
    """The pieces to split `kept` into when it holds two or more strong cores (two or more
    members joined by links >= core_threshold) held together only by weak links, else None.

    Cores are merged best first while the average probability over all their cross pairs is at
    least the review threshold (`linkage`: every scored pair, below the threshold too; a pair
    never compared counts 0). A member outside every multi-member core goes with the piece it
    links to most strongly: a lone profile is the density guard's business, not this one's."""
    strong = {
        (a, b): p for a in kept for b, p in adjacency[a].items() if a < b and p >= core_threshold
    }
    clusters = [set(c) for c in _components(kept, strong) if len(c) > 1]
    if len(clusters) < 2:
        return None

    def average(x: set[int], y: set[int]) -> float:
        total = sum(linkage.get((min(a, b), max(a, b)), 0.0) for a in x for b in y)
        return total / (len(x) * len(y))

    while len(clusters) > 1:
        best, i, j = max(
            (average(clusters[i], clusters[j]), i, j)
            for i in range(len(clusters))
            for j in range(i + 1, len(clusters))
        )
        if best < review_threshold:
            break
        clusters[i] |= clusters.pop(j)
    if len(clusters) == 1:
        return None
    placed = set().union(*clusters)
    for m in kept:
        if m not in placed:
            max(clusters, key=lambda c: max(adjacency[m].get(o, 0.0) for o in c)).add(m)
    return [sorted(c) for c in clusters]


def pair_linkage(pairs, probability, threshold: float) -> dict[tuple[int, int], float]:
    """build_groups' `linkage`: the probability of every scored pair whose two customers both
    have a pair at or above the threshold (only those can be in one group)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    probability = np.asarray(probability, dtype=float)
    grouped = np.unique(pairs[probability >= threshold])
    inside = np.isin(pairs[:, 0], grouped) & np.isin(pairs[:, 1], grouped)
    low = np.minimum(pairs[inside, 0], pairs[inside, 1]).tolist()
    high = np.maximum(pairs[inside, 0], pairs[inside, 1]).tolist()
    return dict(zip(zip(low, high, strict=True), probability[inside].tolist(), strict=True))


def level_vetoes(pairs, levels) -> set[tuple[int, int]]:
    """Pairs whose phones, emails and surnames are all present and all different: never one person."""
    from .compare import FIELD_LEVELS, FIELDS

    different = {name: len(FIELD_LEVELS[name]) - 1 for name in ("email", "phone", "last_name")}
    veto = None
    for name, level in different.items():
        hit = levels[:, FIELDS.index(name)] == level
        veto = hit if veto is None else veto & hit
    hits = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)[np.flatnonzero(veto)]
    return {(min(a, b), max(a, b)) for a, b in hits.tolist()}


def _blockers(members: Sequence[Member]) -> list[dict]:
    out = []
    for m in members:
        fields = list(m.merge_blockers) or (["UNKNOWN"] if m.is_mergeable is False else [])
        for blocker in fields:
            out.append(
                {
                    "customer_id": m.customer_id,
                    "blocker": blocker,
                    "hint": BLOCKER_HINTS.get(blocker, DEFAULT_HINT),
                }
            )
    return out


def _adjacency(edges: dict[tuple[int, int], float]) -> dict[int, dict[int, float]]:
    adjacency: dict[int, dict[int, float]] = defaultdict(dict)
    for (a, b), p in edges.items():
        adjacency[a][b] = p
        adjacency[b][a] = p
    return adjacency


def build_groups(
    scored_pairs: Iterable[tuple[int, int, float]],
    members: dict[int, Member],
    *,
    cannot_link: set[tuple[int, int]] = frozenset(),
    review_threshold: float = REVIEW_THRESHOLD,
    high_threshold: float = HIGH_THRESHOLD,
    bridge_threshold: float = BRIDGE_THRESHOLD,
    linkage: Mapping[tuple[int, int], float] | None = None,
) -> list[Group]:
    """Linear in the edges: every piece of work is local to one component, reached through the
    adjacency built once (a million-customer store has tens of thousands of components).
    `linkage`: the probability of every scored pair, (small id, large id) -> p, below the review
    threshold too (the weak-cores guard averages over all pairs between two cores); None: only
    the edges are known."""
    edges = {
        (min(a, b), max(a, b)): p
        for a, b, p in scored_pairs
        if p >= review_threshold and (min(a, b), max(a, b)) not in cannot_link
    }
    everywhere = _adjacency(edges)
    vetoed: dict[int, set[int]] = defaultdict(set)
    for a, b in cannot_link:  # looked up as (earlier member, later member), like the pairs
        vetoed[a].add(b)
    nodes = sorted(everywhere)
    result: list[Group] = []
    pending = _components(nodes, edges)
    while pending:
        component = pending.pop()
        if len(component) < 2:
            continue
        # Every edge with both ends in the component: cut bridges always end up in two pieces.
        present = set(component)
        inside = {
            (a, b): p for a in component for b, p in everywhere[a].items() if a < b and b in present
        }
        if len(component) > 2:
            weak = {e for e in _bridges(component, inside) if inside[e] < bridge_threshold}
            if weak:
                for e in weak:
                    del inside[e]
                pending.extend(_components(component, inside))
                continue
        adjacency = _adjacency(inside)
        survivor, reason = suggest_survivor([members.get(m, Member(m)) for m in component])
        kept, dropped = _density_guard(component, survivor, adjacency)
        if dropped:
            pending.append(kept)
            if len(dropped) > 1:
                gone = set(dropped)
                rest = {e: p for e, p in inside.items() if e[0] in gone and e[1] in gone}
                pending.extend(_components(dropped, rest))
            continue
        split = _cannot_link_split(kept, survivor, adjacency, vetoed)
        if split is not None:
            pending.extend([[m for m in kept if m != split], [split]])
            continue
        pieces = _weak_cores(
            kept,
            adjacency,
            inside if linkage is None else linkage,
            core_threshold=high_threshold,
            review_threshold=review_threshold,
        )
        if pieces is not None:
            for piece in pieces:
                held = set(piece)
                own = {e: p for e, p in inside.items() if e[0] in held and e[1] in held}
                pending.extend(_components(piece, own))
            continue
        links = [max(adjacency[m].values(), default=0.0) for m in kept]
        result.append(
            Group(
                members=kept,
                survivor=survivor,
                survivor_reason=reason,
                probability=float(min(links)),
                edges=inside,
                needs_split=len(kept) > MAX_GROUP_SIZE,
                blockers=_blockers([members.get(m, Member(m)) for m in kept]),
            )
        )
    return sorted(result, key=lambda g: g.members)
