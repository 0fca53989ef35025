"""Ready segments: Clientele's library, and agency templates, both with typed parameters.

A template's query has `{name}` placeholders; `render` substitutes checked values (numbers as
written, strings quoted and escaped, dates as written), and the result goes through the normal
parser. `definition_check` vets an agency template before it is stored.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str  # integer / number / string / date (KINDS)
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


KINDS = ("integer", "number", "string", "date")
_PARAMETER_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_PARAMETERS = 10


def _value(parameter: Parameter, raw) -> str:
    """The value as query text; ValidationError naming the parameter when it has another type."""
    name, kind = parameter.name, parameter.kind
    if isinstance(raw, bool | dict | list):
        raise ValidationError({name: f"{raw!r} is not {_EXPECTED[kind]}."})
    if kind == "integer":
        try:
            number = int(raw) if isinstance(raw, int) else int(str(raw).strip())
        except ValueError:
            raise ValidationError({name: f"{raw!r} is not a whole number."}) from None
        if number < 0:
            raise ValidationError({name: "Must not be negative."})
        return str(number)
    if kind == "number":
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValidationError({name: f"{raw!r} is not a number."}) from None
        if not number.is_finite():
            raise ValidationError({name: f"{raw!r} is not a number."})
        return format(number, "f")
    if not isinstance(raw, str):
        raise ValidationError({name: f"{raw!r} is not {_EXPECTED[kind]}."})
    if kind == "date":
        try:
            return date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            raise ValidationError({name: f"{raw!r} is not a date such as 2024-05-30."}) from None
    return "'" + raw.replace("\\", "\\\\").replace("'", "\\'") + "'"


_EXPECTED = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "date": "a date such as 2024-05-30",
}


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
            raise ValidationError({parameter.name: "Required (this parameter has no default)."})
        values[parameter.name] = _value(parameter, raw)
    return template.query.format(**values)


# A value of each kind that type-checks, to parse a template whose parameters have no default.
_SAMPLE = {"integer": 1, "number": 1, "string": "x", "date": "2024-01-01"}


def placeholders(query: str) -> list[str]:
    """The `{name}` placeholders of a template query; ValidationError when it is malformed."""
    try:
        parts = list(string.Formatter().parse(query))
    except ValueError as exc:
        raise ValidationError({"query": f"Bad placeholder: {exc}. Write {{name}}."}) from None
    found = []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not _PARAMETER_NAME.fullmatch(name) or spec or conversion:
            raise ValidationError(
                {"query": f"Bad placeholder {{{name}}}: write {{name}}, lower case, no format."}
            )
        found.append(name)
    return found


def template_of(row) -> Template:
    """A stored agency template (segments.models.SegmentTemplate) as a Template."""
    return Template(
        key=row.key,
        name=row.name,
        description=row.description,
        query=row.query,
        parameters=tuple(
            Parameter(p["name"], p["kind"], p.get("default"), p.get("description", ""))
            for p in row.parameters
        ),
    )


def definition_check(query: str, parameters: list[dict]) -> tuple[Parameter, ...]:
    """Parameters well-formed (names, kinds, defaults of their kind), each used in the query and
    every placeholder declared. Returns them typed; ValidationError names what is wrong. The
    caller then parses the rendered query (SegmentQueryError for a bad query)."""
    if len(parameters) > MAX_PARAMETERS:
        raise ValidationError({"parameters": f"At most {MAX_PARAMETERS} parameters."})
    typed = []
    for position, raw in enumerate(parameters, start=1):
        name, kind = raw.get("name", ""), raw.get("kind", "")
        where = f"parameter {position}"
        if not isinstance(name, str) or not _PARAMETER_NAME.fullmatch(name):
            raise ValidationError(
                {"parameters": f"{where}: name {name!r} must be lower case letters, digits, _."}
            )
        if kind not in KINDS:
            raise ValidationError(
                {"parameters": f"{where} ({name}): kind {kind!r} is not one of {', '.join(KINDS)}."}
            )
        parameter = Parameter(name, kind, raw.get("default"), str(raw.get("description") or ""))
        if parameter.default is not None:
            try:
                _value(parameter, parameter.default)
            except ValidationError as error:
                message = error.message_dict[name][0]
                raise ValidationError(
                    {"parameters": f"{where} ({name}): default {message}"}
                ) from None
        typed.append(parameter)
    names = [p.name for p in typed]
    if len(set(names)) != len(names):
        raise ValidationError({"parameters": "Parameter names must be unique."})
    used = placeholders(query)
    undeclared = sorted(set(used) - set(names))
    if undeclared:
        raise ValidationError(
            {"query": f"Placeholders without a parameter: {', '.join(undeclared)}."}
        )
    unused = sorted(set(names) - set(used))
    if unused:
        raise ValidationError({"parameters": f"Not used in the query: {', '.join(unused)}."})
    return tuple(typed)


def sample_render(query: str, parameters: tuple[Parameter, ...]) -> str:
    """The query with each parameter's default, or a sample value of its kind."""
    template = Template("", "", "", query, parameters)
    return render(template, {p.name: _SAMPLE[p.kind] for p in parameters if p.default is None})
