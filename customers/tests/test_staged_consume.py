"""StagedLoad.consume's shortcuts give exactly the COPY text of the plain loop.

The plain loop below is the load as it was before the shortcuts: every line tested blank
before parsing, every line's COPY-escaping need tested by the regex (children included), the
parent's type by gid_type, every parent mapped through `_finish`. The shortcuts (orjson's
refusal as the blank test, a backslash test before the regex, no escaping test for an order's
line items, the two parent types by prefix) must not change one byte of any batch, nor where
the batches are cut, nor which error stops the load. customers/tests/test_bulkrows.py checks the
mapping itself against customers.mapping.
"""

import json
from itertools import islice

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers import bulkrows, staging
from customers.ingest import PARENT_TYPES
from customers.mapping import gid_type
from customers.tests.test_ingest import address_line, customer_line, item_line, order_line


class Collected(staging.StagedLoad):
    """The load with its COPY replaced by a record of each batch and where it was cut."""

    def __init__(self, **kwargs) -> None:
        super().__init__(run_id=0, **kwargs)
        self.flushes: list = []

    def _flush(self, *, lines_done: int) -> None:
        batch, self._batch = self._batch, staging._Batch([], [], [])
        self.flushes.append((lines_done, batch.parents, batch.addresses, batch.late))


class PlainLoop(Collected):
    def consume(self, lines, *, skip=0):
        index = skip
        pending = None
        for index, raw in enumerate(islice(lines, skip, None), start=skip + 1):
            if raw.isspace() or not raw:
                continue
            node = orjson.loads(raw)
            clean = bulkrows.copy_clean(raw)
            parent_gid = node.get("__parentId")
            if parent_gid is None:
                if pending is not None:
                    self._finish(*pending)
                if len(self._batch.parents) >= self.batch_size:
                    self._flush(lines_done=index - 1)
                kind = gid_type(node["id"])
                if kind not in PARENT_TYPES:
                    raise ValueError(f"line {index}: unexpected top-level object {node['id']!r}")
                pending = [kind, node, [], clean, index]
            elif pending is not None and pending[1]["id"] == parent_gid:
                pending[2].append(node)
                pending[3] = pending[3] and clean
            else:
                self._batch.late.append(f"{index}\t{bulkrows._json(node)}\n")
        if pending is not None:
            self._finish(*pending)
        self._flush(lines_done=max(index, skip))


def outcome(cls, phase, lines, *, batch_size, skip):
    load = cls(phase=phase, shop_country="DE", batch_size=batch_size)
    try:
        load.consume(iter(lines), skip=skip)
    except Exception as error:  # the same error must stop both, after the same batches
        return load.flushes, (type(error), str(error))
    return load.flushes, None


def assert_same(phase, lines, *, batch_size=2, skip=0):
    fast = outcome(Collected, phase, lines, batch_size=batch_size, skip=skip)
    plain = outcome(PlainLoop, phase, lines, batch_size=batch_size, skip=skip)
    assert fast == plain
    return fast


# Texts with what COPY must escape, JSON escapes, quotes, non-ASCII, control characters.
odd_text = st.one_of(
    st.sampled_from(["", "Ünïcode", 'quo"te', "back\\slash", "tab\there", "new\nline", "cr\r"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
)
gid_or_odd = st.one_of(
    st.integers(1, 10**6).map(lambda n: f"gid://shopify/Product/{n}"),
    st.sampled_from(["", None, 7, "gid://shopify/Product/7?x=1", "gid://shopify/Product/007"]),
)


@st.composite
def order_export(draw):
    """Orders with line items (escapes in tags, odd product ids), late items, orders without
    items or with an inline list, a customer among the orders."""
    nodes = []
    for n in range(1, draw(st.integers(1, 6)) + 1):
        shape = draw(st.sampled_from(["plain", "odd", "inline", "customer"]))
        if shape == "customer":
            nodes.append(customer_line(n, note=draw(odd_text)))
            nodes.append({**address_line(n, 1), "city": draw(odd_text)})
            continue
        order = order_line(n, n, draw(st.sampled_from(["1.00", "", None])))
        if shape == "odd":
            order.update(name=draw(odd_text), test=draw(st.sampled_from([True, 1, None])))
            order["currentTotalPriceSet"] = draw(
                st.sampled_from([None, {}, {"shopMoney": {"amount": 5, "currencyCode": "\t"}}])
            )
        if shape == "inline":
            order["lineItems"] = {"nodes": [{"productId": "gid://shopify/Product/5"}]}
        nodes.append(order)
        for k in range(draw(st.integers(0, 3))):
            item = item_line(n, k, 1, draw(st.lists(odd_text, max_size=3)))
            item["product"]["id"] = draw(gid_or_odd)
            if draw(st.booleans()):
                item["product"] = None
                item["productId"] = draw(gid_or_odd)
            nodes.append(item)
        if draw(st.booleans()):  # an item whose order is not the line before it
            nodes.append(item_line(n + 100, 1, 3, ["late\\tag"]))
    return nodes


@st.composite
def customer_export(draw):
    nodes = []
    for n in range(1, draw(st.integers(1, 5)) + 1):
        extra = {
            "firstName": draw(odd_text),
            "tags": draw(st.lists(odd_text, max_size=3)),
            "note": draw(odd_text),
            "defaultAddress": draw(
                st.sampled_from([None, {"id": f"gid://shopify/MailingAddress/{n}2"}, {"city": "K"}])
            ),
        }
        if draw(st.integers(0, 9)) == 0:
            extra["state"] = "BOGUS"
        nodes.append(customer_line(n, **extra))
        for k in range(draw(st.integers(0, 3))):
            nodes.append({**address_line(n, k), "zip": draw(odd_text)})
        if draw(st.booleans()):
            nodes.append({"id": f"gid://shopify/Metafield/{n}", "__parentId": nodes[-1]["id"]})
        if draw(st.integers(0, 4)) == 0:
            nodes.append(order_line(n, n, "3.00"))  # an order among the customers
    return nodes


@st.composite
def as_lines(draw, nodes):
    """The nodes written as Shopify does (compact UTF-8) or escaped ASCII with spaces, as bytes
    or text, with blank lines between."""
    lines = []
    for node in nodes:
        style = draw(st.sampled_from(["orjson", "ascii", "spaced"]))
        if style == "orjson":
            raw = orjson.dumps(node) + b"\n"
        else:
            raw = (json.dumps(node, ensure_ascii=style == "ascii") + "\n").encode()
        lines.append(raw)
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from([b"\n", b"", b"  \n", b"\t\r\n"])))
    if draw(st.booleans()):
        lines = [line.decode() for line in lines]
    return lines


HYPOTHESIS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(st.data(), st.integers(1, 4), st.integers(0, 3))
def test_orders_export_gives_the_plain_loops_batches(data, batch_size, skip):
    lines = data.draw(as_lines(data.draw(order_export())))
    assert_same("orders", lines, batch_size=batch_size, skip=skip)


@HYPOTHESIS
@given(st.data(), st.integers(1, 4), st.integers(0, 3))
def test_customers_export_gives_the_plain_loops_batches(data, batch_size, skip):
    lines = data.draw(as_lines(data.draw(customer_export())))
    assert_same("customers", lines, batch_size=batch_size, skip=skip)


def test_an_orders_items_with_escapes_leave_its_clean_line_as_it_was():
    order = order_line(1, 1, "9.90")
    items = [item_line(1, 1, 5, ["tab\there", "back\\slash"]), item_line(1, 2, 6, ["a\nb"])]
    lines = [orjson.dumps(node) + b"\n" for node in (order, *items)]
    (flush,), error = assert_same("orders", lines)
    assert error is None
    assert flush[1] == [bulkrows.order_line(order, items, "1\t", clean=False)]
    assert "back\\\\\\\\slash" in flush[1][0]  # the tag escaped in JSON, then for COPY


@pytest.mark.parametrize(
    "line",
    [b"{", b"[1]", b'{"id": 5}', b'{"id": "gid://shopify/Product/1"}', b'{"x": 1}', b"null"],
)
def test_bad_lines_stop_both_with_the_same_error(line):
    lines = [orjson.dumps(order_line(1, 1, "1")) + b"\n", line]
    _, error = assert_same("orders", lines)
    assert error is not None
