"""A straightforward evaluator of a checked AST over one customer as a plain dict.

It is the reference the SQL compiler is tested against (hypothesis, same AST, same data), so it
is written for obviousness, not speed. Never use it to filter a store's customers.

Customer facts (keys are attribute names):
    shop: str (domain)                 amount_spent: Decimal          number_of_orders: int
    customer_tags / customer_countries / customer_regions / customer_cities / group: list[str]
    customer_email_domain, customer_language, customer_account_status,
    email_subscription_status, sms_subscription_status, predicted_spend_tier, rfm_group: str | None
    duplicate_status: str (the customer's one status, NONE when never suspected)
    customer_added_date, first_order_date, last_order_date, abandoned_checkout_date:
        aware datetime | None
    orders: list of {"date": aware datetime | None, "amount": Decimal,
                     "product_ids": list[int], "product_tags": list[str]}

Rules worth knowing (the compiler implements the same):
- Negative operators (!=, NOT CONTAINS, IS NOT NULL, NOT IN, NOT MATCHES) match exactly the
  customers their positive twin does not, unknown values included.
- Lists compare case-insensitively (trimmed, lowercased); so do email domains and languages.
- `customer_language = 'fr'` matches the locales `fr` and `fr-CA`.
- Functions look at orders as the mirror keeps them: the line items of an order reduced to its
  product ids and product tags, so `id` and `tag` both filter the order.
- Without a `count` parameter a function needs at least one matching order; with one, the count
  condition replaces that rule (`count = 0` is allowed).
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


def fold(text: str) -> str:
    return text.strip().lower()


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


def _folded_text(value: ast.Literal) -> str:
    return fold(value.text)


def _value_matches(kind: Kind, actual, condition: ast.Condition, now, zone, folded=False) -> bool:
    operator = condition.operator
    if operator == Operator.IS_NULL:
        return not actual
    if operator == Operator.IS_NOT_NULL:
        return bool(actual)
    if kind == Kind.DATE:
        return within(actual, bounds(operator, condition.values, now=now, zone=zone))
    if kind in (Kind.FLOAT, Kind.INTEGER, Kind.ID):
        actual = None if actual is None else Decimal(actual)
        return _compare(actual, operator, condition.values, _number)
    if kind == Kind.STRING_LIST:
        found = fold(condition.value.text) in {fold(item) for item in actual or ()}
        return found if operator == Operator.CONTAINS else not found
    if folded:
        return _compare(fold(actual) if actual else None, operator, condition.values, _folded_text)
    return _compare(actual or None, operator, condition.values, _text)


def _language_matches(locale: str | None, condition: ast.Condition) -> bool:
    wanted, locale = fold(condition.value.text), fold(locale or "")
    found = bool(locale) and (locale == wanted or locale.startswith(wanted + "-"))
    return found if condition.operator == Operator.EQ else not found


def _order_matches(function: ast.FunctionCondition, order: dict, now, zone) -> bool:
    for param in function.params:
        name = param.attribute
        if name == "date" and not _value_matches(Kind.DATE, order["date"], param, now, zone):
            return False
        if name == "amount" and not _value_matches(Kind.FLOAT, order["amount"], param, now, zone):
            return False
        if name == "id" and not any(
            _compare(Decimal(pid), param.operator, param.values, _number)
            for pid in order["product_ids"]
        ):
            return False
        if name == "tag" and fold(param.value.text) not in {fold(t) for t in order["product_tags"]}:
            return False
    return True


def _function_matches(function: ast.FunctionCondition, facts: dict, now, zone) -> bool:
    attribute = ATTRIBUTES[function.function]
    aggregates = [p for p in function.params if attribute.param(p.attribute).aggregate]
    matching = [o for o in facts.get("orders", ()) if _order_matches(function, o, now, zone)]
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
    actual = facts.get(node.attribute)
    if node.attribute == "customer_language":
        return _language_matches(actual, node)
    if node.attribute == "group":  # membership: the customer's groups include this one
        found = node.value.text in (actual or ())
        return found if node.operator == Operator.EQ else not found
    attribute = ATTRIBUTES[node.attribute]
    return _value_matches(
        attribute.kind, actual, node, now, zone, folded=attribute.case_insensitive
    )
