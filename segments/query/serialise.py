"""AST <-> JSON (the `parsed` form stored on a segment). Positions are not stored."""

from __future__ import annotations

from segments.query import ast
from segments.query.ast import Literal, LiteralKind, Operator


def to_dict(node: ast.Node) -> dict:
    if isinstance(node, ast.And | ast.Or):
        return {"op": type(node).__name__.upper(), "items": [to_dict(i) for i in node.items]}
    if isinstance(node, ast.FunctionCondition):
        return {
            "function": node.function,
            "negated": node.negated,
            "params": [to_dict(p) for p in node.params],
        }
    if isinstance(node, ast.CallCondition):
        raise TypeError("check the query first: call forms are converted by the checker")
    return {
        "attribute": node.attribute,
        "operator": node.operator.value,
        "values": [{"kind": v.kind.value, "text": v.text} for v in node.values],
    }


def from_dict(data: dict) -> ast.Node:
    if "op" in data:
        node_type = ast.And if data["op"] == "AND" else ast.Or
        return node_type(tuple(from_dict(i) for i in data["items"]))
    if "function" in data:
        return ast.FunctionCondition(
            data["function"], data["negated"], tuple(from_dict(p) for p in data["params"])
        )
    return ast.Condition(
        data["attribute"],
        Operator(data["operator"]),
        tuple(Literal(LiteralKind(v["kind"]), v["text"]) for v in data["values"]),
    )


def uses_relative_dates(node: ast.Node) -> bool:
    """Whether the query's result moves with the calendar (offsets, today, yesterday)."""
    relative = {LiteralKind.OFFSET, LiteralKind.NAMED_DATE}
    for clause in ast.clauses(node):
        conditions = clause.params if isinstance(clause, ast.FunctionCondition) else (clause,)
        for condition in conditions:
            if any(value.kind in relative for value in condition.values):
                return True
    return False
