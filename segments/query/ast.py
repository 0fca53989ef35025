"""The parsed form of a segment query: small frozen dataclasses.

Positions (`span`) are kept for error messages but ignored by equality, so two queries that
mean the same thing compare equal whatever their spacing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


@dataclass(frozen=True)
class Span:
    line: int
    column: int
    end_line: int
    end_column: int


NO_SPAN = Span(0, 0, 0, 0)


class Operator(StrEnum):
    EQ = "="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    BETWEEN = "BETWEEN"
    CONTAINS = "CONTAINS"
    NOT_CONTAINS = "NOT CONTAINS"
    IS_NULL = "IS NULL"
    IS_NOT_NULL = "IS NOT NULL"
    IN = "IN"
    NOT_IN = "NOT IN"
    MATCHES = "MATCHES"
    NOT_MATCHES = "NOT MATCHES"


COMPARISONS = frozenset(
    {Operator.EQ, Operator.NE, Operator.GT, Operator.GE, Operator.LT, Operator.LE}
)
# Negative operators match exactly the rows their positive twin does not (NULLs included),
# as ShopifyQL documents for !=, NOT IN and NOT CONTAINS.
NEGATION_OF = {
    Operator.NE: Operator.EQ,
    Operator.NOT_CONTAINS: Operator.CONTAINS,
    Operator.IS_NOT_NULL: Operator.IS_NULL,
    Operator.NOT_IN: Operator.IN,
    Operator.NOT_MATCHES: Operator.MATCHES,
}


class LiteralKind(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    OFFSET = "offset"  # -7d, +2w, -3m, -1y
    NAMED_DATE = "named_date"  # today, yesterday
    BOOLEAN = "boolean"


DATE_KINDS = frozenset(
    {LiteralKind.DATE, LiteralKind.DATETIME, LiteralKind.OFFSET, LiteralKind.NAMED_DATE}
)


@dataclass(frozen=True)
class Literal:
    """A value as written. `text` is canonical: a string's content unescaped, `-30d` for
    the legacy `30_days_ago`, lowercase `today`; `source` is what the user typed."""

    kind: LiteralKind
    text: str
    span: Span = field(default=NO_SPAN, compare=False)
    source: str = field(default="", compare=False)

    @property
    def number(self) -> Decimal:
        return Decimal(self.text)

    @property
    def is_integer(self) -> bool:
        return self.kind == LiteralKind.NUMBER and "." not in self.text

    @property
    def absolute_date(self) -> date:
        return date.fromisoformat(self.text)

    @property
    def absolute_datetime(self) -> datetime:
        return datetime.fromisoformat(self.text)

    @property
    def boolean(self) -> bool:
        return self.text == "true"


@dataclass(frozen=True)
class Condition:
    """`attribute operator values`: no value for IS [NOT] NULL, two for BETWEEN, many for IN."""

    attribute: str
    operator: Operator
    values: tuple[Literal, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False)
    attribute_span: Span = field(default=NO_SPAN, compare=False)

    @property
    def value(self) -> Literal:
        return self.values[0]


@dataclass(frozen=True)
class FunctionCondition:
    """`function [NOT] MATCHES (param op value, ...)`; each parameter at most once."""

    function: str
    negated: bool
    params: tuple[Condition, ...]
    span: Span = field(default=NO_SPAN, compare=False)
    attribute_span: Span = field(default=NO_SPAN, compare=False)

    def param(self, name: str) -> Condition | None:
        return next((p for p in self.params if p.attribute == name), None)


@dataclass(frozen=True)
class CallCondition:
    """The call form `fn(name: value) op value` (Shopify's deprecated
    `products_purchased(id: 1) = true`, and `anniversary(...)`). Only the parser makes these;
    the checker turns the supported ones into FunctionCondition."""

    function: str
    args: tuple[tuple[str, Literal], ...]
    operator: Operator
    values: tuple[Literal, ...]
    span: Span = field(default=NO_SPAN, compare=False)
    attribute_span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Clause = Condition | FunctionCondition | CallCondition
Node = And | Or | Condition | FunctionCondition | CallCondition


def clauses(node: Node) -> list[Clause]:
    """The clauses of a query, left to right."""
    if isinstance(node, And | Or):
        return [clause for item in node.items for clause in clauses(item)]
    return [node]
