"""Type-checks an AST against the attribute registry and collects every problem found."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from segments.query import ast
from segments.query.ast import DATE_KINDS, Literal, LiteralKind, Operator, Span
from segments.query.errors import QueryErrorDetail, SegmentQueryError
from segments.query.registry import (
    ATTRIBUTES,
    COMMON_MISTAKES,
    MAX_CLAUSES,
    MAX_IN_VALUES,
    Attribute,
    Kind,
    Parameter,
    unsupported_reason,
)

INT64_MAX = 2**63 - 1
# The deprecated call form `products_purchased(id: 1) = true` maps onto MATCHES.
_CALL_FUNCTIONS = {"products_purchased", "orders_placed"}


@dataclass(frozen=True)
class CheckContext:
    """What the checker may know beyond the registry: the shops and groups in reach."""

    shops: frozenset[str] | None = None
    groups: frozenset[str] | None = None


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    candidates = list(candidates)
    folded = {c.lower(): c for c in candidates}
    if word.lower() in folded:
        return folded[word.lower()]
    matches = difflib.get_close_matches(word.lower(), list(folded), n=1, cutoff=0.6)
    return folded[matches[0]] if matches else None


class _Checker:
    def __init__(self, context: CheckContext | None):
        self.context = context or CheckContext()
        self.errors: list[QueryErrorDetail] = []

    def error(self, code, message, span: Span, *, text="", expected=(), suggestion=None):
        self.errors.append(
            QueryErrorDetail(
                code=code,
                message=message,
                line=span.line,
                column=span.column,
                end_line=span.end_line,
                end_column=span.end_column,
                text=text,
                expected=tuple(expected),
                suggestion=suggestion,
            )
        )

    # --- tree -------------------------------------------------------------------------------
    def node(self, node: ast.Node) -> ast.Node:
        if isinstance(node, ast.And | ast.Or):
            return type(node)(tuple(self.node(item) for item in node.items))
        if isinstance(node, ast.CallCondition):
            return self.call(node)
        if isinstance(node, ast.FunctionCondition):
            return self.function(node)
        return self.condition(node)

    def attribute(self, name: str, span: Span) -> Attribute | None:
        attribute = ATTRIBUTES.get(name)
        if attribute and attribute.unavailable:
            self.error(
                "unsupported_attribute",
                f"{name} cannot be used yet: {attribute.unavailable}.",
                span,
                text=name,
            )
            return None
        if attribute:
            return attribute
        reason = unsupported_reason(name)
        if reason:
            self.error(
                "unsupported_attribute",
                f"{name} is a Shopify attribute that Clientele cannot evaluate: {reason}.",
                span,
                text=name,
            )
            return None
        suggestion = COMMON_MISTAKES.get(name.lower()) or _closest(name, ATTRIBUTES)
        self.error(
            "unknown_attribute",
            f"There is no attribute {name!r}.",
            span,
            text=name,
            expected=("an attribute name",),
            suggestion=suggestion,
        )
        return None

    def condition(self, condition: ast.Condition) -> ast.Condition:
        attribute = self.attribute(condition.attribute, condition.attribute_span)
        if attribute is None:
            return condition
        if attribute.kind == Kind.FUNCTION:
            self.error(
                "wrong_operator",
                f"{attribute.name} is a function: write {attribute.name} MATCHES (...)"
                f" or {attribute.name} NOT MATCHES (...).",
                condition.span,
                text=condition.operator.value,
                expected=("MATCHES", "NOT MATCHES"),
            )
            return condition
        self.operator_and_values(
            condition, attribute.name, attribute.kind, attribute.operators, attribute
        )
        return condition

    def function(self, node: ast.FunctionCondition) -> ast.FunctionCondition:
        attribute = self.attribute(node.function, node.attribute_span)
        if attribute is None:
            return node
        if attribute.kind != Kind.FUNCTION:
            operators = " or ".join(o.value for o in attribute.operators)
            self.error(
                "wrong_operator",
                f"MATCHES is for functions; {attribute.name} takes {operators}.",
                node.span,
                text="MATCHES",
                expected=tuple(o.value for o in attribute.operators),
            )
            return node
        seen: set[str] = set()
        for param in node.params:
            definition = attribute.param(param.attribute)
            if definition is None:
                names = [p.name for p in attribute.params]
                self.error(
                    "unknown_parameter",
                    f"{attribute.name} has no parameter {param.attribute!r};"
                    f" it takes {', '.join(names)}.",
                    param.attribute_span,
                    text=param.attribute,
                    expected=tuple(names),
                    suggestion=_closest(param.attribute, names),
                )
                continue
            if param.attribute in seen:
                self.error(
                    "duplicate_parameter",
                    f"{param.attribute} is given twice; each parameter may appear once.",
                    param.attribute_span,
                    text=param.attribute,
                )
            seen.add(param.attribute)
            self.parameter(attribute, definition, param)
        return node

    def parameter(self, attribute: Attribute, definition: Parameter, param: ast.Condition):
        label = f"{attribute.name}'s {definition.name}"
        self.operator_and_values(param, label, definition.kind, definition.allowed_operators, None)

    def call(self, node: ast.CallCondition) -> ast.Node:
        if node.function not in _CALL_FUNCTIONS:
            if self.attribute(node.function, node.attribute_span) is not None:
                self.error(
                    "not_a_call",
                    f"{node.function} is not called with arguments.",
                    node.attribute_span,
                    text=node.function,
                )
            return node
        truth = node.values[0] if node.values else None
        if (
            node.operator not in (Operator.EQ, Operator.NE)
            or truth is None
            or truth.kind != LiteralKind.BOOLEAN
        ):
            self.error(
                "wrong_operator",
                f"The call form of {node.function} is compared with = true or = false;"
                f" prefer {node.function} MATCHES (...).",
                node.span,
                expected=("= true", "= false"),
            )
            return node
        negated = truth.boolean != (node.operator == Operator.EQ)
        params = tuple(
            ast.Condition(name, Operator.EQ, (value,), value.span, value.span)
            for name, value in node.args
        )
        converted = ast.FunctionCondition(
            node.function, negated, params, node.span, node.attribute_span
        )
        return self.function(converted)

    # --- operators and values ---------------------------------------------------------------
    def operator_and_values(self, condition, label, kind: Kind, allowed, attribute):
        if condition.operator not in allowed:
            suggestion = None
            if kind == Kind.STRING_LIST and condition.operator in (Operator.EQ, Operator.NE):
                word = "CONTAINS" if condition.operator == Operator.EQ else "NOT CONTAINS"
                suggestion = f"{condition.attribute} {word} {_quote(condition.values[0])}"
            self.error(
                "wrong_operator",
                f"{label} ({kind.value}) does not take {condition.operator.value};"
                f" it takes {', '.join(o.value for o in allowed)}.",
                condition.span,
                text=condition.operator.value,
                expected=tuple(o.value for o in allowed),
                suggestion=suggestion,
            )
            return
        if condition.operator in (Operator.IN, Operator.NOT_IN) and (
            len(condition.values) > MAX_IN_VALUES
        ):
            self.error(
                "too_many_values",
                f"{label} IN takes at most {MAX_IN_VALUES} values.",
                condition.span,
            )
        for value in condition.values:
            self.value(value, label, kind, attribute)
        if condition.operator == Operator.BETWEEN:
            self.between_order(condition, label, kind)

    def between_order(self, condition, label, kind):
        low, high = condition.values
        numbers = low.kind == high.kind == LiteralKind.NUMBER
        if kind in (Kind.FLOAT, Kind.INTEGER) and numbers and low.number > high.number:
            self.error(
                "empty_range",
                f"{label} BETWEEN {low.text} AND {high.text} can match nothing:"
                " the lower bound comes first.",
                condition.span,
                suggestion=f"BETWEEN {high.text} AND {low.text}",
            )

    def value(self, value: Literal, label: str, kind: Kind, attribute: Attribute | None):
        def wrong(expected: str, code="wrong_type", suggestion=None):
            self.error(
                code,
                f"{label} takes {expected}; {value.source or value.text!r} is not one.",
                value.span,
                text=value.source or value.text,
                expected=(expected,),
                suggestion=suggestion,
            )

        if kind == Kind.DATE:
            if value.kind not in DATE_KINDS:
                wrong("a date: 2024-05-30, 2024-05-30T16:00:00, -7d, -2w, -3m, -1y, today")
            else:
                self.date_value(value, label)
        elif kind == Kind.FLOAT:
            if value.kind != LiteralKind.NUMBER:
                wrong("a number such as 999.99 (no quotes, no thousands separators)")
        elif kind in (Kind.INTEGER, Kind.ID):
            what = "a whole number" if kind == Kind.INTEGER else "a numeric id"
            if value.kind != LiteralKind.NUMBER:
                wrong(what)
            elif not value.is_integer:
                wrong(what, code="not_an_integer", suggestion=str(int(value.number)))
            elif kind == Kind.ID and value.number <= 0:
                wrong("a positive numeric id")
            elif abs(value.number) > INT64_MAX:
                wrong(f"{what} of at most 64 bits")
        elif kind == Kind.ENUM:
            values = attribute.values if attribute else ()
            if value.kind != LiteralKind.STRING:
                wrong(f"one of {', '.join(repr(v) for v in values)} (in single quotes)")
            elif value.text not in values:
                self.error(
                    "unknown_value",
                    f"{value.text!r} is not a value of {label};"
                    f" it takes {', '.join(repr(v) for v in values)} (case-sensitive).",
                    value.span,
                    text=value.source,
                    expected=values,
                    suggestion=_maybe_quote(
                        (attribute.value_aliases.get(value.text.lower()) if attribute else None)
                        or _closest(value.text, values)
                    ),
                )
        elif kind in (Kind.STRING, Kind.STRING_LIST):
            if value.kind != LiteralKind.STRING:
                wrong("a string in single quotes", suggestion=f"'{value.source or value.text}'")
            elif attribute is not None:
                self.string_value(value, attribute)

    def string_value(self, value: Literal, attribute: Attribute):
        if attribute.value_format and not attribute.value_format.fullmatch(value.text):
            self.error(
                "bad_format",
                f"{attribute.name} takes {attribute.format_hint}; {value.text!r} is not one.",
                value.span,
                text=value.source,
                expected=(attribute.format_hint,),
            )
            return
        known = {"shop": self.context.shops, "group": self.context.groups}.get(attribute.name)
        if known is not None and value.text not in known:
            self.error(
                "unknown_value",
                f"{value.text!r} is not a {attribute.name} you can use here.",
                value.span,
                text=value.source,
                suggestion=_maybe_quote(_closest(value.text, known)),
            )

    def date_value(self, value: Literal, label: str):
        try:
            if value.kind == LiteralKind.DATE:
                date.fromisoformat(value.text)
            elif value.kind == LiteralKind.DATETIME:
                datetime.fromisoformat(value.text)
        except ValueError:
            self.error(
                "invalid_date",
                f"{value.text} is not a date that exists (check the month and day).",
                value.span,
                text=value.text,
                expected=("a real calendar date",),
            )
            return
        if value.kind == LiteralKind.OFFSET and int(value.text[1:-1]) > 10_000:
            self.error("invalid_date", f"{value.text} is too far away.", value.span)


def _quote(value: Literal) -> str:
    if value.kind != LiteralKind.STRING:
        return value.source or value.text
    return "'" + value.text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _maybe_quote(value: str | None) -> str | None:
    return None if value is None else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def check(root: ast.Node, *, context: CheckContext | None = None) -> ast.Node:
    """The checked AST (call forms turned into MATCHES); raises SegmentQueryError."""
    checker = _Checker(context)
    checked = checker.node(root)
    clause_list = ast.clauses(root)
    if len(clause_list) > MAX_CLAUSES:
        extra = clause_list[MAX_CLAUSES]
        checker.error(
            "too_many_clauses",
            f"Too many clauses ({len(clause_list)}); a segment takes at most {MAX_CLAUSES}.",
            extra.span,
        )
    if checker.errors:
        raise SegmentQueryError(sorted(checker.errors, key=lambda e: (e.line, e.column)))
    return checked


__all__ = ["CheckContext", "check"]
