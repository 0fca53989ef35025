"""A straightforward evaluator of a checked AST over one customer as a plain dict.

It is the reference the SQL compiler is tested against (hypothesis, same AST, same data), so it
is written for obviousness, not speed. Never use it to filter a store's customers.

Customer facts (keys are attribute names):
    shop: str (domain)                 amount_spent: Decimal          number_of_orders: int
    customer_tags / customer_countries / customer_regions / customer_cities / group: list[str]
    customer_email_domain, customer_language, customer_account_status,
    email_subscription_status, sms_subscription_status, predicted_spend_tier, rfm_group,
    duplicate_status: str | None
    customer_added_date, first_order_date, last_order_date, abandoned_checkout_date:
        aware datetime | None
    orders: list of {"date": aware datetime, "amount": Decimal,
                     "items": list of {"product_id": int, "tags": list[str]}}
"""

from __future__ import annotations

import operator as op
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from segments.query import ast
from segments.query.ast import NEGATION_OF, Operator
from segments.query.dates import bounds, within
from segments.query.registry import ATTRIBUTES, Kind

_ORDER = {
    Operator.EQ: op.eq,
    Operator.GT: op.gt,
    Operator.GE: op.ge,
    Operator.LT: op.lt,
    Operator.LE: op.le,
}


def _compare(left, operator: Operator, values, convert) -> bool:
    if operator in NEGATION_OF:
        return not _compare(left, NEGATION_OF[operator], values, convert)
    if left is None:
        return False
    if operator == Operator.BETWEEN:
        return convert(values[0]) <= left <= convert(values[1])
    right = [convert(v) for v in values]
    if operator == Operator.IN:
        return left in right
    return _ORDER[operator](left, right[0])


def _number(value: ast.Literal) -> Decimal:
    return value.number


def _text(value: ast.Literal) -> str:
    return value.text


def _value_matches(kind: Kind, actual, condition: ast.Condition, now, zone) -> bool:
    operator = condition.operator
    if kind == Kind.DATE:
        if operator == Operator.IS_NULL:
            return actual is None
        if operator == Operator.IS_NOT_NULL:
            return actual is not None
        return within(actual, bounds(operator, condition.values, now=now, zone=zone))
    if kind in (Kind.FLOAT, Kind.INTEGER, Kind.ID):
        actual = None if actual is None else Decimal(actual)
        return _compare(actual, operator, condition.values, _number)
    if kind == Kind.STRING_LIST:
        folded = {item.casefold() for item in actual or ()}
        if operator == Operator.IS_NULL:
            return not folded
        if operator == Operator.IS_NOT_NULL:
            return bool(folded)
        found = condition.value.text.casefold() in folded
        return found if operator == Operator.CONTAINS else not found
    return _compare(actual, operator, condition.values, _text)


def _item_matches(function: ast.FunctionCondition, item: dict) -> bool:
    for param in function.params:
        if param.attribute == "id":
            if not _compare(Decimal(item["product_id"]), param.operator, param.values, _number):
                return False
        elif param.attribute == "tag":
            tags = {tag.casefold() for tag in item["tags"]}
            if param.value.text.casefold() not in tags:
                return False
    return True


def _function_matches(function: ast.FunctionCondition, facts: dict, now, zone) -> bool:
    attribute = ATTRIBUTES[function.function]
    row_params = [p for p in function.params if not attribute.param(p.attribute).aggregate]
    aggregates = [p for p in function.params if attribute.param(p.attribute).aggregate]
    matching = []
    for order in facts.get("orders", ()):
        if any(
            p.attribute in ("date", "amount")
            and not _value_matches(
                attribute.param(p.attribute).kind,
                order[p.attribute],
                p,
                now,
                zone,
            )
            for p in row_params
        ):
            continue
        if function.function == "products_purchased" and not any(
            _item_matches(function, item) for item in order["items"]
        ):
            continue
        matching.append(order)
    totals = {
        "count": len(matching),
        "sum_amount": sum((o["amount"] for o in matching), Decimal(0)),
    }
    if not any(p.attribute == "count" for p in aggregates) and not matching:
        result = False  # without an explicit count, at least one matching order is needed
    else:
        result = all(
            _value_matches(attribute.param(p.attribute).kind, totals[p.attribute], p, now, zone)
            for p in aggregates
        )
    return not result if function.negated else result


def matches(node: ast.Node, facts: dict, *, now: datetime, zone: ZoneInfo) -> bool:
    """Whether the customer described by `facts` is in the segment."""
    if isinstance(node, ast.And):
        return all(matches(item, facts, now=now, zone=zone) for item in node.items)
    if isinstance(node, ast.Or):
        return any(matches(item, facts, now=now, zone=zone) for item in node.items)
    if isinstance(node, ast.FunctionCondition):
        return _function_matches(node, facts, now, zone)
    if isinstance(node, ast.CallCondition):
        raise TypeError("check the query first: call forms are converted by the checker")
    if node.attribute == "group":  # membership: the customer's groups include this one
        found = node.value.text in facts.get("group", ())
        return found if node.operator == Operator.EQ else not found
    attribute = ATTRIBUTES[node.attribute]
    return _value_matches(attribute.kind, facts.get(node.attribute), node, now, zone)
