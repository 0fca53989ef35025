"""bench.dedupe's --rare-names: two shares or a clear error, and a store of its own."""

import argparse

import pytest

from bench.dedupe import NO_RARE_NAMES, rare_names_arg, shop_domain


def test_two_shares_are_read_and_anything_else_is_refused_by_what_it_needs():
    assert rare_names_arg("0.5,0.7") == (0.5, 0.7)
    for text, message in (
        ("0.5", "two shares"),
        ("a,b", "two shares"),
        ("0.5,1.5", "between"),
        ("0.501,0.7", "two decimals"),
    ):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            rare_names_arg(text)


def test_a_store_with_rare_names_has_its_own_domain():
    """Stores are generated once and reused by domain: another name mix must not reuse one."""
    plain = shop_domain(1000, 1, 0.08, "DE")
    assert plain == shop_domain(1000, 1, 0.08, "DE", NO_RARE_NAMES)
    assert shop_domain(1000, 1, 0.08, "DE", (0.5, 0.7)) not in (
        plain,
        shop_domain(1000, 1, 0.08, "DE", (0.5, 0.6)),
    )
