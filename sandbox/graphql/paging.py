"""Relay connections over a sorted index, with Shopify's cursors and limits.

Cursors are base64 of `{"last_id": <id>, "last_value": <sort value>}` as Shopify's are. An index is
an ascending list of keys; `Pager` maps keys to items and cursors to keys.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

MAX_PAGE = 250
# How far to look back/ahead for hasPreviousPage/hasNextPage under a selective filter.
NEIGHBOUR_SCAN_LIMIT = 200_000


def encode_cursor(last_id: int, last_value: Any) -> str:
    raw = json.dumps({"last_id": last_id, "last_value": last_value}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str, argument: str) -> dict:
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=True))
        if not isinstance(data, dict) or "last_id" not in data:
            raise ValueError
        int(data["last_id"])
        return data
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        raise GraphQLError(
            "Invalid cursor for current pagination sort.",
            extensions={"code": "BAD_REQUEST", "argument": argument},
        ) from None


@dataclass
class Pager:
    index: Sequence  # ascending keys
    item_of: Callable[[Any], Any]  # key -> item (None when gone)
    cursor_of: Callable[[Any], tuple[int, Any]]  # item -> (last_id, last_value)
    key_of_cursor: Callable[[dict], Any]  # decoded cursor -> key (comparable with index keys)
    predicate: Callable[[Any], bool] | None = None
    low: Any = None  # keys >= low
    high: Any = None  # keys < high


def check_page_arguments(first: Any, last: Any, *, bulk: bool) -> None:
    if bulk:
        return
    if first is None and last is None:
        raise GraphQLError(
            "you must provide one of first or last", extensions={"code": "BAD_REQUEST"}
        )
    for name, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            raise GraphQLError(
                f"The value of '{name}' must be less than or equal to {MAX_PAGE}.",
                extensions={"code": "BAD_REQUEST", "argument": name, "maximum": MAX_PAGE},
            )
        if value is not None and value < 0:
            raise GraphQLError(
                f"The value of '{name}' must be greater than or equal to 0.",
                extensions={"code": "BAD_REQUEST", "argument": name},
            )


def connection(
    pager: Pager,
    *,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    reverse: bool = False,
    bulk: bool = False,
) -> dict:
    check_page_arguments(first, last, bulk=bulk)
    index = pager.index
    lo, hi = 0, len(index)
    if pager.low is not None:
        lo = bisect.bisect_left(index, pager.low)
    if pager.high is not None:
        hi = bisect.bisect_left(index, pager.high)
    after_key = pager.key_of_cursor(decode_cursor(after, "after")) if after else None
    before_key = pager.key_of_cursor(decode_cursor(before, "before")) if before else None
    # In logical order (reverse flips it) `after` trims the front and `before` the back.
    if not reverse:
        if after_key is not None:
            lo = max(lo, bisect.bisect_right(index, after_key))
        if before_key is not None:
            hi = min(hi, bisect.bisect_left(index, before_key))
    else:
        if after_key is not None:
            hi = min(hi, bisect.bisect_left(index, after_key))
        if before_key is not None:
            lo = max(lo, bisect.bisect_right(index, before_key))
    window_lo, window_hi = lo, hi

    def matching(positions) -> Any:
        for position in positions:
            item = pager.item_of(index[position])
            if item is None:
                continue
            if pager.predicate is None or pager.predicate(item):
                yield position, item

    def forward(start: int, stop: int):  # logical order
        return range(start, stop) if not reverse else range(stop - 1, start - 1, -1)

    def backward(start: int, stop: int):
        return range(stop - 1, start - 1, -1) if not reverse else range(start, stop)

    if last is not None and first is None:
        picked = []
        for found in matching(backward(window_lo, window_hi)):
            picked.append(found)
            if len(picked) > last:
                break
        has_previous = len(picked) > last
        picked = list(reversed(picked[:last]))
        has_next = before_key is not None and _exists(
            pager,
            index,
            range(window_hi, len(index)) if not reverse else range(window_lo - 1, -1, -1),
        )
    else:
        limit = first if first is not None else None
        picked = []
        for found in matching(forward(window_lo, window_hi)):
            picked.append(found)
            if limit is not None and len(picked) > limit:
                break
        has_next = limit is not None and len(picked) > limit
        if limit is not None:
            picked = picked[:limit]
        if last is not None:
            has_previous_inner = len(picked) > last
            picked = picked[-last:] if last else []
        else:
            has_previous_inner = False
        has_previous = has_previous_inner or (
            after_key is not None
            and _exists(
                pager,
                index,
                range(window_lo - 1, -1, -1) if not reverse else range(window_hi, len(index)),
            )
        )
    edges = []
    nodes = []
    for _, item in picked:
        last_id, last_value = pager.cursor_of(item)
        edges.append({"cursor": encode_cursor(last_id, last_value), "node": item})
        nodes.append(item)
    return {
        "edges": edges,
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _exists(pager: Pager, index: Sequence, positions: range) -> bool:
    for scanned, position in enumerate(positions):
        if scanned > NEIGHBOUR_SCAN_LIMIT:
            return True
        if pager.low is not None and index[position] < pager.low:
            continue
        if pager.high is not None and index[position] >= pager.high:
            continue
        item = pager.item_of(index[position])
        if item is not None and (pager.predicate is None or pager.predicate(item)):
            return True
    return False


def list_connection(
    items: list,
    *,
    cursor_of: Callable[[Any], tuple[int, Any]],
    bulk: bool = False,
    **arguments: Any,
) -> dict:
    """A connection over a short in-memory list already in its natural order."""
    keyed = list(enumerate(items))
    positions = {cursor_of(item)[0]: position for position, item in keyed}

    def key_of_cursor(cursor: dict) -> int:
        return positions.get(int(cursor["last_id"]), -1)

    pager = Pager(
        index=list(range(len(items))),
        item_of=lambda position: items[position],
        cursor_of=cursor_of,
        key_of_cursor=key_of_cursor,
    )
    return connection(pager, bulk=bulk, **arguments)
