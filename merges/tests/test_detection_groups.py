"""Groups from scored pairs: chaining guards, vetoes, survivor rule, blockers."""

from datetime import UTC, datetime

import numpy as np
import pytest

from merges.detection.compare import FIELDS, RecordTable, comparison_levels
from merges.detection.groups import (
    HIGH_THRESHOLD,
    MAX_GROUP_SIZE,
    Member,
    build_groups,
    level_vetoes,
    pair_linkage,
    suggest_survivor,
)
from merges.detection.normalize import match_fields

STRONG, WEAK = 0.999, 0.85  # WEAK: below the bridge threshold


def members_of(groups) -> list[list[int]]:
    return [g.members for g in groups]


def test_weak_bridge_is_cut_so_two_people_are_not_chained():
    pairs = [(1, 2, STRONG), (2, 3, WEAK), (3, 4, STRONG)]
    assert members_of(build_groups(pairs, {})) == [[1, 2], [3, 4]]


def test_third_profile_linked_to_one_other_at_0_9_or_more_stays():
    """A person's third profile often links to one of the others only (a typo'd address at
    another provider): at 0.9-0.99 that bridge is not weak (fs-4 cut it below 0.99)."""
    members = {1: Member(1, enabled=True)}
    pairs = [(1, 2, STRONG), (1, 3, 0.92)]
    assert members_of(build_groups(pairs, members)) == [[1, 2, 3]]
    assert members_of(build_groups([(1, 2, STRONG), (1, 3, WEAK)], members)) == [[1, 2]]


def test_strong_chain_keeps_only_members_linked_to_survivor_or_half_the_group():
    members = {1: Member(1, enabled=True)}
    pairs = [(1, 2, STRONG), (2, 3, STRONG), (3, 4, STRONG)]
    groups = build_groups(pairs, members)
    # 4 links only to 3 (one of three others) and not to survivor 1: it leaves the group.
    assert members_of(groups) == [[1, 2, 3]]
    assert groups[0].survivor == 1


def test_pairs_below_review_threshold_form_no_group():
    assert build_groups([(1, 2, 0.5)], {}) == []
    # fs-6: 0.75 (0.55 proposed a namesake pair scoring 0.6, 0.66 one scoring 0.7; most true
    # pairs score above 0.99)
    assert build_groups([(1, 2, 0.62)], {}) == []
    assert build_groups([(1, 2, 0.72)], {}) == []
    assert members_of(build_groups([(1, 2, 0.76)], {})) == [[1, 2]]


def test_dismissed_pair_is_never_grouped_even_through_a_third_member():
    members = {3: Member(3, orders=9)}
    pairs = [(1, 2, STRONG), (1, 3, STRONG), (2, 3, STRONG)]
    assert members_of(build_groups(pairs, members, cannot_link={(1, 2)})) in ([[1, 3]], [[2, 3]])
    assert members_of(build_groups([(1, 2, STRONG)], {}, cannot_link={(1, 2)})) == []


def test_large_groups_are_flagged_for_splitting():
    size = MAX_GROUP_SIZE + 2
    pairs = [(a, b, STRONG) for a in range(1, size + 1) for b in range(a + 1, size + 1)]
    (group,) = build_groups(pairs, {})
    assert len(group.members) == size and group.needs_split
    (small,) = build_groups([(1, 2, STRONG)], {})
    assert not small.needs_split and small.probability == STRONG >= HIGH_THRESHOLD


def old(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("members", "survivor", "reason"),
    [
        (
            [Member(1, orders=5), Member(2, enabled=True)],
            2,
            "the only member with an enabled customer account",
        ),
        ([Member(1, orders=1), Member(2, orders=4)], 2, "most orders (4)"),
        (
            [Member(1, created_at=old(2020)), Member(2, verified_email=True)],
            2,
            "verified email address",
        ),
        ([Member(1, created_at=old(2024)), Member(2, created_at=old(2019))], 2, "oldest profile"),
        ([Member(2), Member(1)], 1, "lowest id (the members are otherwise equal)"),
    ],
)
def test_survivor_rule_and_reason(members, survivor, reason):
    assert suggest_survivor(members) == (survivor, reason)


def test_blockers_are_shown_with_a_hint_and_block_merging():
    members = {
        2: Member(2, is_mergeable=False, merge_blockers=("GIFT_CARDS",)),
        3: Member(3, is_mergeable=False),
    }
    groups = build_groups([(1, 2, STRONG), (3, 4, STRONG)], members)
    blocked = {g.members[0]: g for g in groups}
    assert blocked[1].blockers == [
        {
            "customer_id": 2,
            "blocker": "GIFT_CARDS",
            "hint": "Gift cards are tied to this profile: use or move them first.",
        }
    ]
    assert not blocked[1].mergeable
    assert blocked[3].blockers[0]["blocker"] == "UNKNOWN" and not blocked[3].mergeable
    assert build_groups([(5, 6, STRONG)], {})[0].mergeable


def test_different_phone_email_and_surname_veto_the_pair():
    records = [
        match_fields(
            customer_id=1,
            first_name="Ann",
            last_name="Lee",
            email="sunflower@x.org",
            phone="+44 20 7946 0958",
        ),
        match_fields(
            customer_id=2,
            first_name="Ann",
            last_name="Kerr",
            email="zebra.q@y.org",
            phone="+44 20 7000 1234",
        ),
        match_fields(customer_id=3, first_name="Ann", last_name="Lee", email="other@z.org"),
    ]
    levels, _ = comparison_levels(RecordTable.build(records), np.array([0, 0]), np.array([1, 2]))
    assert levels.shape == (2, len(FIELDS))
    assert level_vetoes([(1, 2), (1, 3)], levels) == {(1, 2)}


def test_chaining_guard_splits_two_people_joined_only_by_namesake_links():
    """Elisabeth Busch-Bergmann's two profiles (1, 2) and Elisabeth Bergmann's (3, 4), each pair one
    person beyond doubt; profile 2 also links to both of the others (0.77) as a namesake would.
    No bridge (two links), and 3 and 4 each link to half the group, so the older guards kept all
    four; averaged over all four cross pairs (1-3 scored 0.02, 1-4 never compared) they are two."""
    members = {1: Member(1, enabled=True)}
    pairs = [(1, 2, STRONG), (3, 4, STRONG), (2, 3, 0.77), (2, 4, 0.77)]
    linkage = {(1, 2): STRONG, (3, 4): STRONG, (2, 3): 0.77, (2, 4): 0.77, (1, 3): 0.02}
    assert members_of(build_groups(pairs, members, linkage=linkage)) == [[1, 2], [3, 4]]
    # Knowing only the edges, the pairs below the threshold count 0 all the same.
    assert members_of(build_groups(pairs, members)) == [[1, 2], [3, 4]]


def test_strong_cores_linked_across_on_average_stay_one_group():
    """One person's four profiles written in two pairs: most cross pairs link, one scores low (a
    new mailbox and a move); the average over the cross pairs keeps them together."""
    pairs = [(1, 2, STRONG), (3, 4, STRONG), (1, 3, 0.9), (1, 4, 0.9), (2, 3, 0.8)]
    linkage = {(a, b): p for a, b, p in pairs} | {(2, 4): 0.5}
    assert members_of(build_groups(pairs, {}, linkage=linkage)) == [[1, 2, 3, 4]]


def test_pair_linkage_keeps_only_pairs_between_grouped_customers():
    pairs = np.array([[1, 2], [2, 3], [3, 4], [5, 6], [4, 1]])
    probability = np.array([0.9, 0.2, 0.8, 0.1, 0.01])
    assert pair_linkage(pairs, probability, 0.55) == {
        (1, 2): 0.9,
        (2, 3): 0.2,
        (3, 4): 0.8,
        (1, 4): 0.01,
    }
