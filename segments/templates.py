"""Ready segments: Clientele's library, and agency templates, both with typed parameters.

A template's query has `{name}` placeholders; `render` substitutes checked values (numbers as
written, strings quoted and escaped), and the result goes through the normal parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str  # integer / number / string
    default: object = None
    description: str = ""


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    description: str
    query: str
    parameters: tuple[Parameter, ...] = field(default=())


LIBRARY: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            "first-time-buyers", "First-time buyers", "Exactly one order", "number_of_orders = 1"
        ),
        Template("repeat-buyers", "Repeat buyers", "Two orders or more", "number_of_orders >= 2"),
        Template(
            "high-spenders",
            "High spenders",
            "Spent at least the amount, all time",
            "amount_spent >= {amount}",
            (Parameter("amount", "number", 500, "Shop currency"),),
        ),
        Template(
            "lapsed",
            "Lapsed customers",
            "Bought before, but not in the last N days (60, 90, 180...)",
            "number_of_orders >= 1 AND last_order_date < -{days}d",
            (Parameter("days", "integer", 90),),
        ),
        Template(
            "abandoned-checkout-7d",
            "Abandoned checkout in the last 7 days",
            "",
            "abandoned_checkout_date >= -7d",
        ),
        Template(
            "subscribers-never-ordered",
            "Subscribers who never ordered",
            "",
            "email_subscription_status = 'SUBSCRIBED' AND number_of_orders = 0",
        ),
        Template(
            "tagged",
            "Customers with a tag",
            "VIP by default",
            "customer_tags CONTAINS {tag}",
            (Parameter("tag", "string", "vip"),),
        ),
        Template("enabled-accounts", "Enabled accounts", "", "customer_account_status = 'ENABLED'"),
        Template(
            "by-country",
            "Customers in a country",
            "",
            "customer_countries CONTAINS {country}",
            (Parameter("country", "string", "US", "Two-letter code"),),
        ),
        Template("never-ordered", "Never ordered", "", "number_of_orders = 0"),
    )
}


def _value(parameter: Parameter, raw) -> str:
    if parameter.kind == "integer":
        try:
            number = int(str(raw))
        except ValueError:
            raise ValidationError({parameter.name: f"{raw!r} is not a whole number."}) from None
        if number < 0:
            raise ValidationError({parameter.name: "Must not be negative."})
        return str(number)
    if parameter.kind == "number":
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            raise ValidationError({parameter.name: f"{raw!r} is not a number."}) from None
        if not number.is_finite():
            raise ValidationError({parameter.name: f"{raw!r} is not a number."})
        return format(number, "f")
    text = str(raw)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(template: Template, params: dict | None = None) -> str:
    """The template's query with its parameters filled in (defaults where not given)."""
    params = dict(params or {})
    unknown = set(params) - {p.name for p in template.parameters}
    if unknown:
        raise ValidationError({name: "Not a parameter of this template." for name in unknown})
    values = {}
    for parameter in template.parameters:
        raw = params.get(parameter.name, parameter.default)
        if raw is None:
            raise ValidationError({parameter.name: "Required."})
        values[parameter.name] = _value(parameter, raw)
    return template.query.format(**values)
