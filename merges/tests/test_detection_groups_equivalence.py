"""build_groups indexes the edges by component once (it filtered every edge per component, which
was quadratic in the number of groups: 471 s at 1,000,000 customers). The groups must be exactly
those of the old algorithm, kept here as the reference, on random graphs."""

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from merges.detection import groups as detection
from merges.detection.groups import Group, Member, build_groups


def _reference_density_guard(members, survivor, edges):
    kept = list(members)
    while True:
        others = len(kept) - 1
        dropped = [
            m
            for m in kept
            if m != survivor
            and (min(m, survivor), max(m, survivor)) not in edges
            and sum((min(m, o), max(m, o)) in edges for o in kept if o != m) * 2 < others
        ]
        if not dropped:
            return kept, [m for m in members if m not in kept]
        kept = [m for m in kept if m not in dropped]


def _reference_cannot_link_split(kept, survivor, edges, cannot_link):
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            if (a, b) in cannot_link:
                if survivor in (a, b):
                    return b if a == survivor else a
                link = lambda m: edges.get((min(m, survivor), max(m, survivor)), 0.0)  # noqa: E731
                return a if link(a) <= link(b) else b
    return None


def _reference_weak_cores(kept, edges):
    """The weak-cores guard (fs-4) written against the edge dict, average linkage over the edges
    (build_groups without `linkage` knows only those)."""
    strong = {e: p for e, p in edges.items() if p >= detection.HIGH_THRESHOLD}
    clusters = [set(c) for c in detection._components(kept, strong) if len(c) > 1]
    if len(clusters) < 2:
        return None

    def average(x, y):
        return sum(edges.get((min(a, b), max(a, b)), 0.0) for a in x for b in y) / (len(x) * len(y))

    while len(clusters) > 1:
        best, i, j = max(
            (average(clusters[i], clusters[j]), i, j)
            for i in range(len(clusters))
            for j in range(i + 1, len(clusters))
        )
        if best < detection.REVIEW_THRESHOLD:
            break
        clusters[i] |= clusters.pop(j)
    if len(clusters) == 1:
        return None
    placed = set().union(*clusters)
    for m in kept:
        if m not in placed:
            link = lambda c: max(edges.get((min(m, o), max(m, o)), 0.0) for o in c)  # noqa: E731
            max(clusters, key=link).add(m)
    return [sorted(c) for c in clusters]


def reference_build_groups(scored_pairs, members, *, cannot_link=frozenset()):
    """The algorithm before the change, verbatim but for the helpers' names (and fs-4's weak-cores
    guard and fs-5's bridge threshold, changed after it)."""
    edges = {
        (min(a, b), max(a, b)): p
        for a, b, p in scored_pairs
        if p >= detection.REVIEW_THRESHOLD and (min(a, b), max(a, b)) not in cannot_link
    }
    nodes = sorted({n for edge in edges for n in edge})
    result = []
    pending = detection._components(nodes, edges)
    while pending:
        component = pending.pop()
        if len(component) < 2:
            continue
        inside = {e: p for e, p in edges.items() if e[0] in component and e[1] in component}
        if len(component) > 2:
            weak = {
                e
                for e in detection._bridges(component, inside)
                if inside[e] < detection.BRIDGE_THRESHOLD
            }
            if weak:
                for e in weak:
                    del inside[e]
                pending.extend(detection._components(component, inside))
                continue
        survivor, reason = detection.suggest_survivor(
            [members.get(m, Member(m)) for m in component]
        )
        kept, dropped = _reference_density_guard(component, survivor, inside)
        if dropped:
            pending.append(kept)
            if len(dropped) > 1:
                rest = {e: p for e, p in inside.items() if e[0] in dropped and e[1] in dropped}
                pending.extend(detection._components(dropped, rest))
            continue
        split = _reference_cannot_link_split(kept, survivor, inside, cannot_link)
        if split is not None:
            pending.extend([[m for m in kept if m != split], [split]])
            continue
        pieces = _reference_weak_cores(kept, inside)
        if pieces is not None:
            for piece in pieces:
                own = {e: p for e, p in inside.items() if e[0] in piece and e[1] in piece}
                pending.extend(detection._components(piece, own))
            continue
        kept_edges = dict(inside)
        links = [max((p for e, p in kept_edges.items() if m in e), default=0.0) for m in kept]
        result.append(
            Group(
                members=kept,
                survivor=survivor,
                survivor_reason=reason,
                probability=float(min(links)),
                edges=kept_edges,
                needs_split=len(kept) > detection.MAX_GROUP_SIZE,
                blockers=detection._blockers([members.get(m, Member(m)) for m in kept]),
            )
        )
    return sorted(result, key=lambda g: g.members)


# Probabilities around both thresholds, so edges are dropped, weak and strong.
PROBABILITY = st.sampled_from([0.5, 0.69, 0.7, 0.8, 0.95, 0.989, 0.99, 0.999, 1.0])


@st.composite
def scored_graphs(draw):
    """Many small clusters (the shape of a real store) plus random links between them."""
    nodes = draw(st.integers(2, 60))
    pair = st.tuples(st.integers(1, nodes), st.integers(1, nodes)).filter(lambda p: p[0] != p[1])
    pairs = draw(st.lists(st.tuples(pair, PROBABILITY), max_size=150))
    scored = [(a, b, p) for (a, b), p in pairs]
    vetoes = draw(st.lists(pair, max_size=10))
    cannot_link = {(min(a, b), max(a, b)) for a, b in vetoes}
    members = {
        n: Member(n, enabled=draw(st.booleans()), orders=draw(st.integers(0, 3)))
        for n in draw(st.sets(st.integers(1, nodes), max_size=nodes))
    }
    return scored, members, cannot_link


@settings(max_examples=400, deadline=None)
@given(scored_graphs())
def test_same_groups_as_the_old_algorithm_on_random_graphs(graph):
    scored, members, cannot_link = graph
    assert build_groups(scored, members, cannot_link=cannot_link) == reference_build_groups(
        scored, members, cannot_link=cannot_link
    )


def test_many_groups_same_result_as_before():
    """A store-like input: 3,000 clusters of 1-5 profiles, bridges, dismissals, chains."""
    import random

    rng = random.Random(5)
    scored, cannot_link, by_cluster = [], set(), defaultdict(list)
    node = 0
    for cluster in range(3000):
        for _ in range(rng.randint(1, 5)):
            node += 1
            by_cluster[cluster].append(node)
        people = by_cluster[cluster]
        for i, a in enumerate(people):
            for b in people[i + 1 :]:
                if rng.random() < 0.8:
                    scored.append((a, b, rng.choice([0.75, 0.97, 0.995, 0.9999])))
    for _ in range(600):  # namesakes linking clusters, some strongly
        a, b = rng.randint(1, node), rng.randint(1, node)
        if a != b:
            scored.append((a, b, rng.choice([0.72, 0.9, 0.995])))
    for _ in range(100):
        a, b = rng.randint(1, node), rng.randint(1, node)
        if a != b:
            cannot_link.add((min(a, b), max(a, b)))
    members = {n: Member(n, orders=n % 4) for n in range(1, node + 1)}
    new = build_groups(scored, members, cannot_link=cannot_link)
    assert len(new) > 1000
    assert new == reference_build_groups(scored, members, cannot_link=cannot_link)
