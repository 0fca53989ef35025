"""AST -> canonical query text: upper-case keywords, single spaces, single-quoted strings,
`-30d` for the legacy `30_days_ago`, parentheses only where AND/OR precedence needs them.

Parsing the canonical text gives back an equal AST (tested), so it is what we store and show.
"""

from __future__ import annotations

from segments.query import ast
from segments.query.ast import Literal, LiteralKind, Operator


def literal_text(value: Literal) -> str:
    if value.kind == LiteralKind.STRING:
        return "'" + value.text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return value.text


def _condition(condition: ast.Condition) -> str:
    name, operator, values = condition.attribute, condition.operator, condition.values
    if operator in (Operator.IS_NULL, Operator.IS_NOT_NULL):
        return f"{name} {operator.value}"
    if operator == Operator.BETWEEN:
        return f"{name} BETWEEN {literal_text(values[0])} AND {literal_text(values[1])}"
    if operator in (Operator.IN, Operator.NOT_IN):
        return f"{name} {operator.value} ({', '.join(literal_text(v) for v in values)})"
    return f"{name} {operator.value} {literal_text(values[0])}"


def _call(node: ast.CallCondition) -> str:
    args = ", ".join(f"{name}: {literal_text(value)}" for name, value in node.args)
    head = f"{node.function}({args})"
    if node.operator == Operator.BETWEEN:
        return f"{head} BETWEEN {literal_text(node.values[0])} AND {literal_text(node.values[1])}"
    return f"{head} {node.operator.value} {literal_text(node.values[0])}"


def to_text(node: ast.Node, parent: type | None = None) -> str:
    if isinstance(node, ast.Or):
        text = " OR ".join(to_text(item, ast.Or) for item in node.items)
        return f"({text})" if parent is ast.And else text
    if isinstance(node, ast.And):
        return " AND ".join(to_text(item, ast.And) for item in node.items)
    if isinstance(node, ast.FunctionCondition):
        keyword = "NOT MATCHES" if node.negated else "MATCHES"
        return f"{node.function} {keyword} ({', '.join(_condition(p) for p in node.params)})"
    if isinstance(node, ast.CallCondition):
        return _call(node)
    return _condition(node)
